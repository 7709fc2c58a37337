"""Support for tests that run the system as real processes on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.db import connection

BASE_DIR = Path(__file__).resolve().parent.parent
BIN_DIR = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def current_database_url() -> str:
    """A DATABASE_URL for the database the running tests use."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or 5432
    return f"postgres://{auth}@{host}:{port}/{db['NAME']}"


def process_env(**overrides: str) -> dict[str, str]:
    """The environment of a server process sharing this test run's database.

    Its own Celery queue keeps it from taking tasks queued by anything else.
    Unknown charge points are accepted at once (the lab opt-in) unless the
    caller passes OCPP_DEFAULT_REGISTRATION_STATUS, or removes it from the
    returned environment to run on the product's default (Pending).
    """
    env = dict(os.environ)
    env.update(
        DATABASE_URL=current_database_url(),
        CELERY_TASK_DEFAULT_QUEUE=f"test-{uuid.uuid4().hex}",
        DJANGO_DEBUG="1",
        PYTHONUNBUFFERED="1",
        OCPP_DEFAULT_REGISTRATION_STATUS="Accepted",
    )
    env.update(overrides)
    return env


def wait_for_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout} s")
        time.sleep(0.2)


@contextmanager
def running(args: list[str], env: dict[str, str], log_path: Path):
    """Run a process for the duration of the block, its output in log_path."""
    with open(log_path, "wb") as log:
        # A process group of its own: what the process starts goes with it (Celery's
        # embedded beat is a child that outlived a test's killed worker).
        process = subprocess.Popen(
            args,
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
            _signal_group(process, signal.SIGKILL)  # the group's stragglers, if any
            process.wait()


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:  # the whole group has exited
        pass


@contextmanager
def daphne_node(env: dict[str, str], log_dir: Path, extra_args: tuple[str, ...] = ()):
    """A Daphne process serving the project; yields its base URL (http://...)."""
    port = free_port()
    args = [str(BIN_DIR / "daphne"), "-b", "127.0.0.1", "-p", str(port), *extra_args]
    args.append("csms_project.asgi:application")
    with running(args, env, log_dir / f"daphne-{port}.log"):
        base_url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base_url}/healthz")
        yield base_url


@contextmanager
def celery_worker(env: dict[str, str], log_dir: Path, beat: bool = False):
    """A Celery worker consuming the queue named in env (with `beat`: also its schedule)."""
    args = [str(BIN_DIR / "celery"), "-A", "csms_project", "worker", "--pool=solo"]
    args += ["-Q", env["CELERY_TASK_DEFAULT_QUEUE"], "--loglevel=INFO", "--without-heartbeat"]
    if beat:
        args += ["-B", "-s", str(log_dir / "celerybeat-schedule")]
    with running(args, env, log_dir / "celery.log") as process:
        yield process


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.2):
    """Poll predicate() until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(interval)


@contextmanager
def private_redis(log_dir: Path, port: int | None = None):
    """A redis-server of this test alone on 127.0.0.1 (stop and restart it at will).

    Yields a handle with `url`, `stop()` and `start()`; the machine's own
    Redis is never touched.
    """
    handle = _PrivateRedis(port or free_port(), log_dir)
    handle.start()
    try:
        yield handle
    finally:
        handle.stop()


class _PrivateRedis:
    def __init__(self, port: int, log_dir: Path):
        self.port, self.log_dir = port, log_dir
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        args = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port)]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.log_dir)]
        log = open(self.log_dir / f"redis-{self.port}.log", "ab")  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"redis-server on port {self.port} did not start")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

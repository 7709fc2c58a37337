"""The server configurations under test, started and stopped by the benchmark.

  echo    bench/echo_server.py: bare `websockets`, the physical reference
  sqlite  the project on Daphne, SQLite (a bench file, WAL), in-process channel layer
  pg      the project on Daphne, PostgreSQL (database csms_bench) + Redis channel layer

With processes > 1 (pg only: the processes reach each other's charge points
through Redis), the project runs under `csms_project.launcher`: N Daphne
processes, each on its own SO_REUSEPORT socket of the same port.

Every project server runs as in production (DJANGO_DEBUG=0) unless the
caller overrides the environment, uses its own database (never the
developer's db.sqlite3 or the test databases), its own channel-layer prefix
and its own Celery queue on a Redis database of its own (read by the bench's
worker, see Worker, or by none with --no-worker), so that benchmark traffic
can never reach another process of the machine. A one-process server is pinned to core 0
with taskset; several processes may use every core (BENCH_MULTI_SERVER_CORES).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .loadgen.chargepoint import raise_nofile
from .sysinfo import process_tree, tree_rss_kib
from .wsclient import open_lean

PROJECT = Path(__file__).resolve().parent.parent
VENV_BIN = PROJECT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python")
WORK_DIR = Path(os.environ.get("BENCH_WORK_DIR", "/tmp/csms-bench"))
PG_DATABASE = os.environ.get("BENCH_PG_DATABASE", "csms_bench")
PG_URL = f"postgres://postgres@127.0.0.1:5432/{PG_DATABASE}"
REDIS_URL = "redis://127.0.0.1:6379/0"
# Another prefix / queue / database (BENCH_*) lets two benchmarks share a machine.
CHANNEL_PREFIX = os.environ.get("BENCH_CHANNEL_PREFIX", "bench")
CELERY_QUEUE = f"{CHANNEL_PREFIX}-invoices"  # the bench worker's queue; emptied after each run
# The broker on a Redis database of its own: Celery's shared keys (unacked, the
# broadcast exchanges) never meet another process's workers or queues.
BROKER_URL = f"redis://127.0.0.1:6379/{os.environ.get('BENCH_BROKER_DB', '14')}"
SERVER_CORES = os.environ.get("BENCH_SERVER_CORES", "0")
MULTI_SERVER_CORES = os.environ.get("BENCH_MULTI_SERVER_CORES", f"0-{(os.cpu_count() or 1) - 1}")
LOADGEN_CORE = int(os.environ.get("BENCH_LOADGEN_CORE", "1"))
DEFAULT_BACKLOG = 1024  # what csms_project.daphne_patches and the launcher use

# Inherited variables that would change the configuration under test.
_PROJECT_VARIABLES = (
    "DATABASE_URL",
    "DATABASE_CONN_MAX_AGE",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CELERY_TASK_DEFAULT_QUEUE",
    "CHANNEL_LAYER_CAPACITY",
    "CHANNEL_LAYER_MAX_CONNECTIONS",
    "CHANNEL_LAYER_PREFIX",
    "LOG_LEVEL",
)

BASE_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "benchmark-only-key-not-a-secret-0123456789abcdefghijklmnop",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    "DJANGO_SECURE_SSL_REDIRECT": "0",
    "DJANGO_SECURE_HSTS_SECONDS": "0",
    # Load generators connect as unknown charge points: the lab opt-in.
    "OCPP_DEFAULT_REGISTRATION_STATUS": "Accepted",
}
CONFIG_ENV = {
    "sqlite": {
        "DATABASE_URL": f"sqlite:///{WORK_DIR / 'bench.sqlite3'}",
        "CELERY_BROKER_URL": "memory://",
    },
    "pg": {
        "DATABASE_URL": PG_URL,
        "REDIS_URL": REDIS_URL,
        "CHANNEL_LAYER_PREFIX": CHANNEL_PREFIX,
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_TASK_DEFAULT_QUEUE": CELERY_QUEUE,
    },
}
DATABASE_LABEL = {
    "echo": "none",
    "sqlite": "SQLite (WAL) + in-memory channel layer",
    "pg": "PostgreSQL + Redis channel layer",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(config: str, overrides: dict | None = None) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "OCPP_")) and k not in _PROJECT_VARIABLES
    }
    env.update(BASE_ENV)
    env.update(CONFIG_ENV.get(config, {}))
    env.update(overrides or {})
    env["PYTHONUNBUFFERED"] = "1"
    return env


def ensure_pg_database() -> None:
    exists = subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-At",
            "-c",
            f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}'",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if exists != "1":
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", f"CREATE DATABASE {PG_DATABASE}"],
            check=True,
            capture_output=True,
        )


def redis_cleanup() -> None:
    """Remove what the benchmark may have left in Redis: its Celery queue, and the
    groups of its own channel-layer prefix (a collapsed storm leaves some behind)."""
    broker = ["redis-cli", "-u", BROKER_URL]
    subprocess.run(
        [*broker, "DEL", CELERY_QUEUE, f"_kombu.binding.{CELERY_QUEUE}"], capture_output=True
    )
    # Its priority sub-queues too (kombu names them QUEUE\x06\x16N). The shared
    # `unacked` hash is left alone: the worker's warm shutdown acknowledges its own.
    for pattern in (f"{CELERY_QUEUE}*", f"_kombu.binding*.{CELERY_QUEUE}"):
        for key in subprocess.run(
            [*broker, "--scan", "--pattern", pattern], capture_output=True, text=True
        ).stdout.split():
            subprocess.run([*broker, "DEL", key], capture_output=True)
    # The worker's remote-control binding deadline, once no worker on this broker
    # database holds the binding any more (another benchmark's worker may).
    if (
        not subprocess.run(
            [*broker, "EXISTS", "_kombu.binding.celery.pidbox"], capture_output=True, text=True
        )
        .stdout.strip()
        .endswith("1")
    ):
        subprocess.run([*broker, "DEL", "_kombu.binding_deadlines"], capture_output=True)
    keys = []
    for pattern in (f"{CHANNEL_PREFIX}:*", f"{CHANNEL_PREFIX}specific.*"):
        keys += subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "--scan", "--pattern", pattern],
            capture_output=True,
            text=True,
        ).stdout.split()
    for start in range(0, len(keys), 500):
        subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "DEL", *keys[start : start + 500]],
            capture_output=True,
        )


def reset_database(config: str) -> None:
    """Drop the benchmark's own database (never another one)."""
    if config == "pg":
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-c",
                f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)",
            ],
            check=True,
            capture_output=True,
        )
        ensure_pg_database()
    elif config == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            (WORK_DIR / f"bench.sqlite3{suffix}").unlink(missing_ok=True)


def prepare_database(config: str, env: dict, tags: int) -> dict:
    """Migrate, create the id tags, empty the high-volume tables.

    The migrations of a working tree can change between runs (a migration
    rewritten before it is merged): when migrate fails, the benchmark
    database is dropped and built again from the current migrations.
    """
    if config == "echo":
        return {}
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    if config == "pg":
        ensure_pg_database()
    command = [
        "taskset",
        "-c",
        str(LOADGEN_CORE),
        PYTHON,
        "-m",
        "bench.django_tasks",
        "prepare",
        "--tags",
        str(tags),
    ]
    done = subprocess.run(command, env=env, cwd=PROJECT, capture_output=True, text=True)
    if done.returncode != 0:
        reset_database(config)
        done = subprocess.run(command, env=env, cwd=PROJECT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"prepare failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout)


@dataclass
class ServerSpec:
    config: str  # echo | sqlite | pg
    asgi: str = "daphne"  # daphne | uvicorn
    env: dict = field(default_factory=dict)
    patches: list[str] = field(default_factory=list)
    backlog: int | None = None  # None: the server's default (Daphne/Twisted: 50)
    label: str = ""
    processes: int = 1  # > 1: csms_project.launcher (Daphne or uvicorn)

    def __post_init__(self):
        if self.processes > 1:
            if self.config != "pg":
                raise ValueError(
                    f"{self.config}: one process only (several need PostgreSQL and the "
                    "Redis channel layer: the pg configuration)"
                )
            if self.patches:
                raise ValueError("bench/serve.py patches apply to one process only")
        if not self.label:
            self.label = self.config if self.config == "echo" else f"{self.asgi}+{self.config}"
            if self.processes > 1:
                self.label += f" x{self.processes}"

    @property
    def cores(self) -> str:
        return MULTI_SERVER_CORES if self.processes > 1 else SERVER_CORES

    def command(self, port: int) -> list[str]:
        if self.config == "echo":
            return [PYTHON, "-m", "bench.echo_server", "--port", str(port)]
        if self.processes > 1:
            # As deployed: csms_project.launcher, one SO_REUSEPORT socket per process.
            if self.asgi == "daphne":
                extra = os.environ.get("BENCH_DAPHNE_ARGS", "").split()
            else:
                extra = ["--no-access-log", "--log-level", "warning"]
            return [
                PYTHON,
                "-m",
                "csms_project.launcher",
                "--server",
                self.asgi,
                "--processes",
                str(self.processes),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--backlog",
                str(self.backlog or DEFAULT_BACKLOG),
                "--",
                *extra,
            ]
        if self.asgi == "daphne":
            if self.backlog:
                bind = ["-e", f"tcp:port={port}:interface=127.0.0.1:backlog={self.backlog}"]
            else:
                bind = ["-b", "127.0.0.1", "-p", str(port)]
            # BENCH_DAPHNE_ARGS: extra Daphne options, e.g. "--websocket_connect_timeout 60".
            extra = os.environ.get("BENCH_DAPHNE_ARGS", "").split()
            args = [*bind, *extra, "csms_project.asgi:application"]
            if not self.patches:
                return [str(VENV_BIN / "daphne"), *args]
        elif self.asgi == "uvicorn":
            args = [
                "csms_project.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--ws",
                "websockets-sansio",
                "--lifespan",
                "off",
                "--no-access-log",
                "--log-level",
                "warning",
            ]
            if self.backlog:
                args += ["--backlog", str(self.backlog)]
            if not self.patches:
                return [str(VENV_BIN / "uvicorn"), *args]
        else:
            raise ValueError(self.asgi)
        return [
            PYTHON,
            "-m",
            "bench.serve",
            "--patch",
            ",".join(self.patches),
            "--",
            self.asgi,
            *args,
        ]

    def environment(self) -> dict:
        return server_env(self.config, self.env)

    def describe(self) -> dict:
        return {
            "label": self.label,
            "database": DATABASE_LABEL[self.config],
            "asgi": "websockets (bare)" if self.config == "echo" else self.asgi,
            "env": {k: v for k, v in self.env.items()},
            "patches": self.patches,
            "backlog": self.backlog,
            "processes": self.processes,
            "cores": self.cores,
        }


class Server:
    def __init__(self, spec: ServerSpec, log_name: str = "server"):
        self.spec = spec
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        (WORK_DIR / "logs").mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%H%M%S")
        self.log_path = WORK_DIR / "logs" / f"{stamp}-{log_name}-{spec.label}.log"
        # The server inherits this process's nice value and slice (run.py sets them).
        self.cmd = ["taskset", "-c", spec.cores, *spec.command(self.port)]

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp/"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def pids(self) -> list[int]:
        """The server's processes: the launcher (or the one server) and its children."""
        return process_tree(self.process.pid)

    def rss_kib(self) -> int:
        """VmRSS of the server, summed over its processes."""
        return tree_rss_kib(self.process.pid)

    def start(self, timeout: float = 60.0) -> Server:
        log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            self.cmd,
            env=self.spec.environment(),
            cwd=PROJECT,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=raise_nofile,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited at start-up; see {self.log_path}")
            if _ready(self.url + "BENCH-READY", self.spec.processes):
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server not ready in {timeout} s; see {self.log_path}")
            time.sleep(0.3)

    def stop(self) -> None:
        """SIGTERM (a launcher passes it on to its processes), SIGKILL after a while;
        then no process of the tree may be left behind holding the port."""
        if self.process is None or self.process.poll() is not None:
            return
        tree = {pid: _cmdline(pid) for pid in self.pids()}
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15 * self.spec.processes)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for pid, cmdline in tree.items():
            if pid != self.process.pid and cmdline and _cmdline(pid) == cmdline:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    def log_problems(self) -> dict:
        """Lines of the server log that say something went wrong."""
        counts = {"ERROR": 0, "Traceback": 0, "Too many connections": 0}
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return counts
        for line in text.splitlines():
            for key in counts:
                if key in line:
                    counts[key] += 1
        return counts

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def _ready(url: str, processes: int = 1) -> bool:
    """A handshake answered; with several processes, 10 x N quick ones in a row.

    The kernel spreads connections over the processes' sockets by a hash of
    the source port, so 10 x N handshakes all answered within 0.5 s leave a
    chance of about e^-10 that a process still loading Django got none.
    """

    async def probe() -> bool:
        for _ in range(1 if processes == 1 else 10 * processes):
            try:
                conn = await open_lean(url, "ocpp1.6", 5.0 if processes == 1 else 0.5)
            except Exception:
                return False
            await conn.close()
        return True

    return asyncio.run(probe())


class Worker:
    """The Celery worker with beat, as the contract runs it (`celery -A csms_project
    worker -B`), on the bench's own queue, broker database and schedule file.

    It runs the outbox relay (beat every EVENTS_RELAY_INTERVAL s, and on the
    nudges of the servers), so every ended session gets its invoice during the
    run. No gossip, mingle or heartbeat: it must not talk to other workers.
    Stopped (warm shutdown, then SIGKILL of its tree) and its queue emptied.
    """

    def __init__(self, env: dict, log_name: str = "worker"):
        (WORK_DIR / "logs").mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%H%M%S")
        self.log_path = WORK_DIR / "logs" / f"{stamp}-{log_name}-celery.log"
        self.env = env
        self.process: subprocess.Popen | None = None
        self.cmd = [
            str(VENV_BIN / "celery"),
            "-A",
            "csms_project",
            "worker",
            "-B",
            "-Q",
            env.get("CELERY_TASK_DEFAULT_QUEUE", CELERY_QUEUE),
            "-s",
            str(WORK_DIR / f"celerybeat-{CHANNEL_PREFIX}"),
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"bench-{CHANNEL_PREFIX}@%h",
        ]

    def pids(self) -> list[int]:
        return process_tree(self.process.pid) if self.process else []

    def start(self, timeout: float = 60.0) -> Worker:
        redis_cleanup()  # nothing queued by an earlier run
        log = open(self.log_path, "w")  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen(
            ["taskset", "-c", MULTI_SERVER_CORES, *self.cmd],
            env=self.env,
            cwd=PROJECT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while "ready." not in self.log_path.read_text(errors="replace"):
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited at start-up; see {self.log_path}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"celery worker not ready in {timeout} s; see {self.log_path}")
            time.sleep(0.3)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            tree = {pid: _cmdline(pid) for pid in self.pids()}
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            for pid, cmdline in tree.items():
                if pid != self.process.pid and cmdline and _cmdline(pid) == cmdline:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
        redis_cleanup()

    def log_problems(self) -> dict:
        counts = {"ERROR": 0, "Traceback": 0}
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return counts
        for line in text.splitlines():
            for key in counts:
                if key in line:
                    counts[key] += 1
        return counts

    def __enter__(self) -> Worker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def run_django_task(env: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["taskset", "-c", str(LOADGEN_CORE), PYTHON, "-m", "bench.django_tasks", *args],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


if __name__ == "__main__":  # manual check: start one configuration and wait
    spec = ServerSpec(sys.argv[1] if len(sys.argv) > 1 else "sqlite")
    with Server(spec) as server:
        print(server.url, server.pid, " ".join(server.cmd))
        signal.pause()

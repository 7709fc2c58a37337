"""`bin/run` starts and stops like a service (real processes, embedded default).

It runs on its own SQLite database, var folder (lock, filesystem broker,
beat schedule) and port, with the install step skipped (the venv exists).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from csms_project import testing

pytestmark = pytest.mark.e2e

BIN_RUN = testing.BASE_DIR / "bin" / "run"
STOP_SECONDS = 15


def run_env(tmp_path: Path, port: int) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "OCPP_", "CELERY_", "REDIS_", "CSMS_", "DATABASE_"))
        and key not in ("CHANNEL_LAYER_PREFIX", "PROMETHEUS_MULTIPROC_DIR")
    }
    env.update(
        CSMS_VAR_DIR=str(tmp_path / "var"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CSMS_HOST="127.0.0.1",
        CSMS_PORT=str(port),
        CSMS_SKIP_INSTALL="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def processes() -> list[tuple[int, int, int]]:
    """(pid, parent pid, session id) of every process of this machine."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        found.append((int(entry.name), int(fields[1]), int(fields[3])))
    return found


def descendants(root: int) -> set[int]:
    """Sessions of the children of `root` (each server runs in its own) and the children."""
    table = processes()
    children = {pid for pid, ppid, _ in table if ppid == root}
    sessions = {sid for pid, _, sid in table if pid in children and sid == pid}
    return children | {pid for pid, _, sid in table if sid in sessions}


def test_starts_refuses_a_second_and_stops_cleanly_on_sigterm(tmp_path):
    port = testing.free_port()
    env = run_env(tmp_path, port)
    log_path = tmp_path / "run.log"
    with open(log_path, "wb") as log:
        run = subprocess.Popen(
            [str(BIN_RUN)], cwd=testing.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        testing.wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=90)
        second = subprocess.run(
            [str(BIN_RUN)],
            cwd=testing.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 1
        assert f"bin/run is already running here (pid {run.pid}" in second.stderr

        # The first screen comes last, after the servers' own start-up lines.
        testing.wait_until(lambda: "Next steps" in log_path.read_text(errors="replace"), 60)
        time.sleep(0.5)
        screen = log_path.read_text(errors="replace")
        assert screen.index("celery@") < screen.index("CSMS is running on")
        for expected in (
            f"(stop: Ctrl-C here, or kill {run.pid})",
            f"http://127.0.0.1:{port}/admin/",
            "registered as Pending: they wait until an operator accepts them",
            "manage.py createsuperuser --noinput",
            f"http://127.0.0.1:{port}/admin/drivers/idtag/add/",
            f"http://127.0.0.1:{port}/admin/billing/tariff/",
            "registration_status__exact=Pending",
            "manage.py simulate --url",
            "manage.py ocpp_command",
            "This is a development set-up",
            "docs/DEPLOYMENT.md",
        ):
            assert expected in screen, expected
        assert (tmp_path / "var" / "run.pid").read_text().strip() == str(run.pid)
        children = descendants(run.pid)
        assert len(children) >= 3, children  # Celery, its beat, Daphne

        started = time.monotonic()
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=STOP_SECONDS + 5) == 0
        stop_seconds = time.monotonic() - started
        left = children & {pid for pid, _, _ in processes()}
        assert not left, f"left behind: {left}"
        assert stop_seconds < STOP_SECONDS, stop_seconds
        assert "CSMS stopped." in log_path.read_text(errors="replace")
        assert "did not stop" not in log_path.read_text(errors="replace")
        assert not (tmp_path / "var" / "run.pid").exists()
    finally:
        if run.poll() is None:
            for pid in descendants(run.pid):
                with_suppressed_kill(pid)
            run.kill()
            run.wait()


def with_suppressed_kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass

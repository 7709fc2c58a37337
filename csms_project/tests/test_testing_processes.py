"""The test helpers' processes leave nothing behind, also when a test killed the parent."""

from __future__ import annotations

import os
import sys
import time

from csms_project import testing


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child reaped by nobody (its parent died) stays a zombie until init reaps it.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


def test_a_killed_process_child_is_stopped_with_the_block(tmp_path):
    # The parent starts a child that would run for a minute (as Celery's embedded beat does),
    # prints its pid, and waits.
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    log = tmp_path / "parent.log"
    with testing.running([sys.executable, "-c", script], dict(os.environ), log) as parent:
        testing.wait_until(lambda: log.read_text().strip() != "", timeout=20)
        child = int(log.read_text().split()[0])
        parent.kill()  # what a test does to simulate a dead worker
        parent.wait(timeout=10)
        assert _alive(child)  # the child outlives its parent...
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child)  # ...but not the block

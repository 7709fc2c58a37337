"""The project as deployed around the servers: the Celery worker with beat (the
outbox relay, the invoices, the sweeps), and what it achieved by the end of a run.

Every ended session costs an invoice, made by the outbox relay in the worker;
a durable benchmark without it measures a server whose invoicing backlog
only grows. `--no-worker` leaves the worker out (the earlier behaviour: the
nudges go to a queue no one reads, emptied afterwards), for comparison.
"""

from __future__ import annotations

import contextlib
import json
import time

from ..servers import Worker, run_django_task
from ..sysinfo import CpuMeter
from .common import log

DRAIN_TIMEOUT = 120.0  # after the load: how long the backlog may take to clear


def with_worker(spec, args) -> bool:
    """A worker runs next to the pg configuration unless --no-worker."""
    return spec.config == "pg" and not getattr(args, "no_worker", False)


@contextlib.contextmanager
def deployed(spec, args, log_name: str, enabled: bool = True):
    """The worker (or None) for the servers of this spec, stopped and its queue
    emptied afterwards whatever happens. `enabled=False`: Heartbeat-only runs,
    which write no sessions."""
    if not enabled or not with_worker(spec, args):
        yield None
        return
    worker = Worker(spec.environment(), log_name=log_name)
    worker.start()
    log(f"celery worker up (pid {worker.process.pid}): {' '.join(worker.cmd)}")
    try:
        yield worker
    finally:
        worker.stop()


def worker_meter(worker: Worker | None) -> CpuMeter | None:
    return CpuMeter(worker.pids) if worker is not None else None


def invoicing_state(env: dict) -> dict:
    """Sessions ended, invoices, the outbox backlog and lag (django_tasks invoicing)."""
    done = run_django_task(env, "invoicing", timeout=300)
    try:
        return json.loads(done.stdout)
    except ValueError:
        return {"error": (done.stderr or done.stdout)[-500:]}


def invoices_outstanding(state: dict) -> int | None:
    """Ended sessions still waiting for their invoice (or a recorded billing failure;
    a disputed session is not billed until an operator resolves it)."""
    if "error" in state:
        return None
    settled = state["invoices"] + state["billing_failures"] + state["sessions_disputed"]
    return max(0, state["sessions_ended"] - settled) + state["outbox_pending"].get("invoicing", 0)


def drain(env: dict, timeout: float = DRAIN_TIMEOUT) -> tuple[dict, float | None]:
    """Wait until every ended session is invoiced and the invoicing backlog is empty;
    return the final state and the seconds it took (None: not within `timeout`)."""
    started = time.monotonic()
    while True:
        state = invoicing_state(env)
        if invoices_outstanding(state) == 0:
            return state, round(time.monotonic() - started, 1)
        if time.monotonic() - started > timeout or "error" in state:
            return state, None
        time.sleep(2.0)


def invoicing_columns(
    before: dict | None, at_end: dict, drained: dict | None, drain_s, meter: CpuMeter | None
) -> dict:
    """The row's invoicing figures: during the run (deltas), the backlog at the end of
    the load, and after the drain."""
    before = before or {"sessions_ended": 0, "invoices": 0}
    if "error" in at_end:
        return {"invoicing_error": at_end["error"]}
    final = drained or at_end
    return {
        "worker": meter is not None,
        "worker_cpu_pct": (meter.result or {}).get("server_cpu_pct") if meter else None,
        "sessions_ended": at_end["sessions_ended"] - before["sessions_ended"],
        "invoices_at_end": at_end["invoices"] - before["invoices"],
        "sessions_disputed": final["sessions_disputed"] - before.get("sessions_disputed", 0),
        "outbox_pending_at_end": at_end["outbox_pending"].get("invoicing", 0),
        "outbox_oldest_pending_s": at_end["outbox_oldest_pending_s"],
        "invoicing_lag_p50_ms": at_end["invoicing_lag"].get("p50_ms"),
        "invoicing_lag_p99_ms": at_end["invoicing_lag"].get("p99_ms"),
        "invoices_after_drain": final["invoices"] - before["invoices"],
        "billing_failures": final["billing_failures"],
        "drain_s": drain_s,
        "invoicing_at_end": at_end,
    }

"""Celery tasks of the stations app: the periodic sweeps (see csms_project.schedule)."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from billing.selectors import transaction_settled_q

from .services.meter_rollups import meter_rollups_sweep, meter_values_prune
from .services.reservations import reservations_expire
from .services.sweeps import chargepoint_sweep_timed_out, transaction_flag_stale


@shared_task
def sweep_heartbeat_timeouts() -> int:
    """Mark charge points that stopped talking offline; return how many."""
    return len(chargepoint_sweep_timed_out())


@shared_task
def sweep_stale_transactions() -> int:
    """Flag open sessions nobody heard of for a while; return how many were flagged."""
    flagged, _unflagged = transaction_flag_stale()
    return flagged


@shared_task
def sweep_expired_reservations() -> int:
    """Accepted reservations past their expiry date become expired; return how many."""
    return reservations_expire()


def _rollup_seconds() -> int:
    return max(1, settings.METER_VALUES_ROLLUP_MINUTES) * 60


@shared_task
def rollup_meter_values() -> dict:
    """Roll up the samples of sessions that ended lately, and of long running ones."""
    seconds = _rollup_seconds()
    result = meter_rollups_sweep(
        interval_seconds=seconds,
        # Two days back: a worker that was down a day leaves no session behind.
        lookback=timedelta(days=2),
        running_after=timedelta(seconds=seconds * 4),
    )
    return {"ended": result.ended, "running": result.running}


@shared_task
def prune_meter_values() -> dict:
    """Delete raw samples of old settled sessions after their roll-up (docs/METER_VALUES.md)."""
    days = settings.METER_VALUES_RAW_RETENTION_DAYS
    unlinked_days = settings.METER_VALUES_UNLINKED_RETENTION_DAYS
    if not days and not unlinked_days:
        return {"sessions": 0, "deleted": 0, "unlinked_deleted": 0, "skipped": 0}
    result = meter_values_prune(
        settled=transaction_settled_q(),
        retention=timedelta(days=days) if days else None,
        unlinked_retention=timedelta(days=unlinked_days) if unlinked_days else None,
        interval_seconds=_rollup_seconds(),
        batch_sessions=settings.METER_VALUES_PRUNE_BATCH_SESSIONS,
    )
    return {
        "sessions": result.sessions,
        "deleted": result.deleted,
        "unlinked_deleted": result.unlinked_deleted,
        "skipped": result.skipped,
    }

"""Celery tasks of the stations app: the periodic sweeps (see csms_project.schedule)."""

from celery import shared_task

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

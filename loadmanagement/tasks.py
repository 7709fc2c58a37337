"""Celery tasks of load management: thin wrappers taking ids."""

from celery import shared_task

from . import selectors, services
from .dispatch import clearances_dispatch_sync, site_dispatch_sync


@shared_task(ignore_result=True)
def dispatch_site(station_id: int) -> int:
    """Send a site's pending profiles (idempotent: nothing pending, nothing sent).

    Then the clearances due anywhere: a site switched off, or a station that
    left it, has them right after the change that made them.
    """
    sent = site_dispatch_sync(station_id=station_id)
    if selectors.clearances_due().exists():
        clearances_dispatch_sync()
    return sent


@shared_task(ignore_result=True)
def clear_profiles() -> int:
    """Send the ClearChargingProfile requests due (a deleted site's, unanswered ones again)."""
    return clearances_dispatch_sync()


@shared_task(ignore_result=True)
def sweep_sites() -> int:
    """Recompute every managed site (measured draw, schedules) and send what is due.

    Also the restart path: a CSMS that was down finds its allocation in the
    database and re-sends what was never answered.
    """
    for station_id in services.managed_station_ids():
        services.site_recompute(station_id=station_id, trigger=services.Trigger.SWEEP)
        if selectors.site_has_due(station_id=station_id):
            dispatch_site.delay(station_id)
    if selectors.clearances_due().exists():
        clear_profiles.delay()
    services.decisions_prune()
    return len(services.managed_station_ids())

"""Celery tasks of load management: thin wrappers taking ids."""

from celery import shared_task

from . import selectors, services
from .dispatch import site_dispatch_sync


@shared_task(ignore_result=True)
def dispatch_site(station_id: int) -> int:
    """Send a site's pending profiles (idempotent: nothing pending, nothing sent)."""
    return site_dispatch_sync(station_id=station_id)


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
    services.decisions_prune()
    return len(services.managed_station_ids())

"""Load management's reaction to domain events: recompute a site when its sessions change.

A session that starts or ends, and a charger that (re)connects, change what
the site's other sessions may draw. The subscriber is durable: the relay
recomputes inside the transaction that marks the event handled (the stored
allocation exists exactly once), and the profiles are sent after that
commit by a task. A broker that is down delays the profiles; the periodic
sweep (tasks.sweep_sites) sends whatever is still pending.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet

from events.kinds import EventKind
from events.subscribers import Event, Subscriber
from events.tasks import relay_outbox_nudge
from orm_support.query_templates import QueryTemplate
from stations.models import ChargePoint

from . import selectors, services
from .models import SiteLimit
from .tasks import dispatch_site

TRIGGERS = {
    EventKind.SESSION_STARTED: services.Trigger.SESSION_STARTED,
    EventKind.SESSION_ENDED: services.Trigger.SESSION_ENDED,
    EventKind.CHARGE_POINT_CONNECTED: services.Trigger.CHARGER_CONNECTED,
}


def _some_site_limit() -> QuerySet[SiteLimit]:
    return SiteLimit.objects.order_by().only("pk")[:1]


# Asked for every session start and end of the whole network: compiled once.
_SOME_SITE_LIMIT = QueryTemplate(_some_site_limit)


def any_site_managed() -> bool:
    """No outbox rows at all for a network without site limits (one indexed query)."""
    return bool(_SOME_SITE_LIMIT.rows())


def recompute_site(event: Event) -> None:
    charge_point_pk = event.payload["charge_point"]
    if event.kind == EventKind.CHARGE_POINT_CONNECTED:
        station_id = services.charger_reconnected(charge_point_pk=charge_point_pk)
    else:
        station_id = (
            ChargePoint.objects.filter(pk=charge_point_pk)
            .values_list("station_id", flat=True)
            .first()
        )
    if station_id is None:
        return
    decision = services.site_recompute(station_id=station_id, trigger=TRIGGERS[event.kind])
    if decision is not None or selectors.site_has_due(station_id=station_id):
        transaction.on_commit(lambda: dispatch_site.delay(station_id))


load_management = Subscriber(
    name="load_management",
    kinds=frozenset(TRIGGERS),
    handle=recompute_site,
    wanted=any_site_managed,
    nudge=relay_outbox_nudge,
)

"""Roaming's reaction to domain events: EVSE status to partners within seconds.

Durable (an outbox row per event): the relay hands each change to a Celery
task per partner (roaming.tasks.push_evse_status), which calls the partner
with retries and back-off. The charge point's transaction only writes the
outbox row, and only while some partner takes pushes: a partner that is
down never slows a StatusNotification.
"""

from __future__ import annotations

import time

from django.db import transaction

from events.kinds import EventKind
from events.subscribers import Event, Subscriber
from events.tasks import relay_outbox_nudge
from stations.models import Connector, Transaction

from .authorizations import session_authorization_bind
from .cdrs import cdr_record
from .choices import PartyStatus
from .models import Party
from .push import partners_receiving_locations
from .sessions import partner_sessions_url, transaction_roaming_driver
from .tasks import push_evse_status, push_session, send_cdr

# Whether any partner takes pushes, per process, for this many seconds: asked
# inside the charge point's transaction, so not a query every time.
WANTED_CACHE_SECONDS = 30.0
_wanted_cache: dict[str, float | bool] = {"until": 0.0, "value": False}


def partners_want_pushes() -> bool:
    now = time.monotonic()
    if now >= _wanted_cache["until"]:
        _wanted_cache["value"] = bool(partners_receiving_locations())
        _wanted_cache["until"] = now + WANTED_CACHE_SECONDS
    return bool(_wanted_cache["value"])


_partners_cache: dict[str, float | bool] = {"until": 0.0, "value": False}


def partners_registered() -> bool:
    """Whether any partner is registered (cached like partners_want_pushes)."""
    now = time.monotonic()
    if now >= _partners_cache["until"]:
        _partners_cache["value"] = Party.objects.filter(status=PartyStatus.REGISTERED).exists()
        _partners_cache["until"] = now + WANTED_CACHE_SECONDS
    return bool(_partners_cache["value"])


def wanted_cache_clear() -> None:
    _wanted_cache["until"] = 0.0
    _partners_cache["until"] = 0.0


def _connectors_of(event: Event) -> list[int]:
    payload = event.payload
    if event.kind == EventKind.CONNECTOR_STATUS_CHANGED:
        connector = Connector.objects.filter(pk=payload["connector"]).first()
        if connector is None:
            return []
        if connector.connector_id != 0:
            return [connector.pk]
        charge_points = [payload["charge_point"]]  # connector 0 speaks for all of them
    elif event.kind == EventKind.CHARGE_POINT_CONNECTED:
        charge_points = [payload["charge_point"]]
    else:
        charge_points = list(payload["charge_points"])
    return list(
        Connector.objects.filter(charge_point__in=charge_points, connector_id__gt=0).values_list(
            "pk", flat=True
        )
    )


def push_status(event: Event) -> None:
    connectors = _connectors_of(event)
    for party in partners_receiving_locations() if connectors else []:
        for connector_pk in connectors:
            push_evse_status.delay(party.pk, connector_pk)


evse_status = Subscriber(
    name="roaming_evse_status",
    kinds=frozenset(
        {
            EventKind.CONNECTOR_STATUS_CHANGED,
            EventKind.CHARGE_POINT_CONNECTED,
            EventKind.CHARGE_POINTS_DISCONNECTED,
        }
    ),
    handle=push_status,
    wanted=partners_want_pushes,
    nudge=relay_outbox_nudge,
)


def session_and_cdr(event: Event) -> None:
    """A roaming driver's session to its eMSP; its CDR once it is invoiced.

    The CDR row is stored here, in the relay's transaction (so exactly once
    per invoice, and before any attempt to send it); it is sent after the
    commit by a task, and by the sweep (send_unsent_cdrs) if that task
    never ran or gave up. Our own drivers' sessions are left alone.
    """
    if event.kind == EventKind.INVOICE_ISSUED:
        cdr = cdr_record(invoice_pk=event.payload["invoice"])
        if cdr is not None and cdr.sent_at is None:
            # robust: a broker that is down must not undo the stored CDR; the sweep sends it.
            transaction.on_commit(lambda: send_cdr.delay(cdr.pk), robust=True)
        return
    session = Transaction.objects.filter(pk=event.payload["transaction"]).first()
    driver = transaction_roaming_driver(session) if session else None
    if driver and event.kind == EventKind.SESSION_STARTED:
        # Once, in the relay's transaction: the Session and the CDR name it from now on.
        session_authorization_bind(transaction=session, token=driver.token)
    if driver and partner_sessions_url(driver.party):
        push_session.delay(session.pk, whole=event.kind == EventKind.SESSION_STARTED)


sessions_and_cdrs = Subscriber(
    name="roaming_sessions",
    kinds=frozenset({EventKind.SESSION_STARTED, EventKind.SESSION_ENDED, EventKind.INVOICE_ISSUED}),
    handle=session_and_cdr,
    wanted=partners_registered,
    nudge=relay_outbox_nudge,
)

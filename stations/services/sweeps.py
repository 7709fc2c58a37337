"""Periodic sweeps that keep the network's recorded state true (run by Celery beat).

A charge point that went silent without closing its socket (power cut,
network gone) is never disconnected by the server that held it; the
heartbeat sweep notices, on whichever node, from the database alone.
"""

from __future__ import annotations

import operator
from datetime import datetime, timedelta
from functools import reduce

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from events.kinds import EventKind
from events.services import event_record

from ..choices import ConnectorStatus, SessionStatus
from ..models import ChargePoint, Connector, MeterValue, Transaction


def connectors_mark_unavailable(*, charge_point_pks: list[int], now: datetime | None = None) -> int:
    """Show the connectors of offline charge points as Unavailable.

    The status timestamp is kept, so that the first StatusNotification after
    the charge point is back (stamped later) replaces it again.
    """
    return (
        Connector.objects.filter(charge_point_id__in=charge_point_pks)
        .exclude(status=ConnectorStatus.UNAVAILABLE)
        .update(status=ConnectorStatus.UNAVAILABLE, updated_at=now or timezone.now())
    )


def _silent_since(*, now: datetime, factor: float) -> Q:
    """Online charge points whose last message is older than factor x their interval."""
    intervals = (
        ChargePoint.objects.filter(is_online=True)
        .values_list("heartbeat_interval", flat=True)
        .distinct()
    )
    conditions = []
    for interval in intervals:
        seconds = (interval or settings.OCPP_HEARTBEAT_INTERVAL) * factor
        cutoff = now - timedelta(seconds=seconds)
        same_interval = (
            Q(heartbeat_interval__isnull=True)
            if interval is None
            else Q(heartbeat_interval=interval)
        )
        conditions.append(same_interval & (Q(last_seen__lt=cutoff) | Q(last_seen__isnull=True)))
    return reduce(operator.or_, conditions) if conditions else Q(pk__in=[])


@transaction.atomic
def chargepoint_sweep_timed_out(
    *, now: datetime | None = None, factor: float | None = None
) -> list[int]:
    """Mark charge points silent for too long offline; return their pks.

    Silent: no message for OCPP_HEARTBEAT_TIMEOUT_FACTOR times the charge
    point's heartbeat interval. The rows are locked while they are marked,
    so a message arriving meanwhile is not overwritten by a stale decision.
    """
    now = now or timezone.now()
    factor = settings.OCPP_HEARTBEAT_TIMEOUT_FACTOR if factor is None else factor
    pks = list(
        ChargePoint.objects.select_for_update()
        .filter(_silent_since(now=now, factor=factor), is_online=True)
        # Locked in key order, the order the journal's foreign-key checks
        # take theirs in: a sweep and a journal batch never deadlock.
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if pks:
        ChargePoint.objects.filter(pk__in=pks).update(is_online=False, connection_channel="")
        connectors_mark_unavailable(charge_point_pks=pks, now=now)
        event_record(kind=EventKind.CHARGE_POINTS_DISCONNECTED, payload={"charge_points": pks})
    return pks


@transaction.atomic
def chargepoint_sweep_lost_process(
    *, channel_marker: str, now: datetime | None = None
) -> list[int]:
    """Mark offline the charge points whose socket a lost server process held; return their pks.

    A server process that dies (killed, host gone) never runs its sockets'
    disconnect. Its charge points are known by their connection channel,
    whose name contains `channel_marker` (the process's part of the channel
    names). One that meanwhile connected to another process carries that
    process's channel and is left alone: the rows are locked while marked.
    """
    if not channel_marker:
        return []
    now = now or timezone.now()
    pks = list(
        ChargePoint.objects.select_for_update()
        .filter(connection_channel__contains=channel_marker)
        .order_by("pk")  # as in chargepoint_sweep_timed_out
        .values_list("pk", flat=True)
    )
    if pks:
        ChargePoint.objects.filter(pk__in=pks).update(is_online=False, connection_channel="")
        connectors_mark_unavailable(charge_point_pks=pks, now=now)
        event_record(kind=EventKind.CHARGE_POINTS_DISCONNECTED, payload={"charge_points": pks})
    return pks


def transaction_flag_stale(
    *, now: datetime | None = None, hours: float | None = None
) -> tuple[int, int]:
    """Flag running sessions without any message for `hours`; unflag those heard from again.

    A session's last message is its own: the later of its start and its
    latest meter value (by server receipt time: a charger's clock may be
    wrong). The connector's status notifications do not count: a charger
    that keeps reporting "Charging" for a session it no longer sends meter
    values for is exactly the one to look at. Sessions are never closed here:
    only the charge point knows the meter reading, so the operator decides.
    Returns (flagged, unflagged).
    """
    now = now or timezone.now()
    hours = settings.STALE_TRANSACTION_HOURS if hours is None else hours
    cutoff = now - timedelta(hours=hours)
    last_meter_value = MeterValue.objects.filter(transaction=OuterRef("pk")).order_by(
        "-received_at"
    )
    open_sessions = Transaction.objects.filter(status=SessionStatus.RUNNING).annotate(
        last_message=Greatest(
            "created_at",
            Coalesce(Subquery(last_meter_value.values("received_at")[:1]), "created_at"),
        )
    )
    with transaction.atomic():
        stale = list(
            open_sessions.filter(stale_since__isnull=True, last_message__lt=cutoff).values_list(
                "pk", flat=True
            )
        )
        alive = list(
            open_sessions.filter(stale_since__isnull=False, last_message__gte=cutoff).values_list(
                "pk", flat=True
            )
        )
        flagged = Transaction.objects.filter(pk__in=stale, stale_since__isnull=True).update(
            stale_since=now
        )
        unflagged = Transaction.objects.filter(pk__in=alive).update(stale_since=None)
    return flagged, unflagged

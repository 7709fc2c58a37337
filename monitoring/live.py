"""Push what changed to the live dashboards (group "dashboard" of the channel layer).

Services call these functions with the ids of what they changed. The push
happens after the database transaction commits (the dashboard must never
show a state that is rolled back), and only while a dashboard is open
somewhere: otherwise a call costs a clock read (plus, at most once per
WATCH_CACHE_SECONDS per process, one small query) and registers nothing.
Nothing here ever raises into the caller: a failed push is logged and the
dashboards catch up at their next periodic refresh.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from .metrics import DASHBOARD_PUSHES

logger = logging.getLogger(__name__)

DASHBOARD_GROUP = "dashboard"
# How long a process trusts its last "is anyone watching?" answer.
WATCH_CACHE_SECONDS = 1.0

_watch_cache = {"until": 0.0, "watched": False}


def forget_watchers() -> None:
    """Drop the cached answer (tests, and a dashboard opening in this process)."""
    _watch_cache["until"] = 0.0


def _watched() -> bool:
    # Imported here: stations.services imports this module, and these import stations.
    from . import nodes
    from .selectors import dashboard_watched

    if nodes.local_watchers() > 0:
        return True
    now = time.monotonic()
    if now >= _watch_cache["until"]:
        _watch_cache["watched"] = dashboard_watched()
        _watch_cache["until"] = now + WATCH_CACHE_SECONDS
    return _watch_cache["watched"]


def _send(kind: str, build) -> None:
    """Build the event and send it to the group; log, never raise."""
    try:
        event = build()
        layer = get_channel_layer()
        if event is None or layer is None:
            return
        async_to_sync(layer.group_send)(DASHBOARD_GROUP, event)
        DASHBOARD_PUSHES.labels(kind, "sent").inc()
    except Exception:
        DASHBOARD_PUSHES.labels(kind, "failed").inc()
        logger.exception("live dashboard push (%s) failed", kind)


def _after_commit(kind: str, build) -> None:
    """While anyone watches, push once the caller's transaction commits."""
    try:
        if _watched():
            transaction.on_commit(lambda: _send(kind, build), robust=True)
    except Exception:
        logger.exception("live dashboard push (%s) not scheduled", kind)


def _charge_points_event(pks: list[int]) -> dict | None:
    from .selectors import chargepoint_cards

    cards = chargepoint_cards(charge_point_pks=pks, limit=len(pks))
    return {"type": "dashboard.charge_points", "charge_points": cards} if cards else None


def live_charge_points_changed(*, charge_point_pks: Iterable[int]) -> None:
    """Charge points went online or offline (their connectors may have changed too)."""
    pks = sorted(set(charge_point_pks))
    if pks:
        _after_commit("charge_points", lambda: _charge_points_event(pks))


def live_charge_point_changed(*, charge_point_pk: int) -> None:
    live_charge_points_changed(charge_point_pks=[charge_point_pk])


def live_connector_changed(*, connector_pk: int) -> None:
    """A connector's status changed: its charge point's card is pushed again."""

    def build():
        from stations.models import Connector

        charge_point_pk = (
            Connector.objects.filter(pk=connector_pk).values_list("charge_point_id", flat=True)
        ).first()
        return None if charge_point_pk is None else _charge_points_event([charge_point_pk])

    _after_commit("connector", build)


def live_transaction_changed(*, transaction_pk: int) -> None:
    """A session started or stopped: dashboards recount their totals."""
    _after_commit(
        "transaction", lambda: {"type": "dashboard.summary", "transaction": transaction_pk}
    )

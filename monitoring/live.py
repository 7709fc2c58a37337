"""Push what changed to the live dashboards (group "dashboard" of the channel layer).

The dashboards subscriber (monitoring.subscribers) calls `dashboard_push`
with a domain event, after its transaction committed: the dashboard never
shows a state that was rolled back. Events are only recorded for this
subscriber while a dashboard is open somewhere (`dashboard_watched_cached`):
otherwise an event costs a clock read (plus, at most once per
WATCH_CACHE_SECONDS per process, one small query).

The push itself never holds up its caller (the commit hook of a charge
point's message, just before the answer): the channel layer is called
without waiting for it (channel_health.call_soon), and while the layer is
down pushes are dropped and counted (`csms_dashboard_pushes_total`, result
"dropped"). Open dashboards show "live updates paused" meanwhile and load a
fresh snapshot when the layer is back, so nothing dropped stays missing.
A push that cannot even be built (the database failed) raises, and the
outbox retries it.

A push carries the cards of the charge points that changed, read once
for every dashboard (a few queries, whatever the size of the network);
each dashboard's consumer forwards only the cards its page shows
(monitoring.grid.GridView). A batch larger than PUSH_CARDS_MAX (a node
died, the heartbeat sweep took many charge points offline) is not worth
sending card by card: dashboards are told to read their page again.
"""

from __future__ import annotations

import time

from channels.layers import get_channel_layer

from events.kinds import EventKind
from events.subscribers import Event

from . import nodes
from .channel_health import call_soon
from .metrics import DASHBOARD_PUSHES
from .selectors import chargepoint_cards, dashboard_watched

DASHBOARD_GROUP = "dashboard"
# How long a process trusts its last "is anyone watching?" answer.
WATCH_CACHE_SECONDS = 1.0
# More changed charge points than this in one event: dashboards resync instead.
PUSH_CARDS_MAX = 200

_watch_cache = {"until": 0.0, "watched": False}
SESSION_KINDS = frozenset(
    {
        EventKind.SESSION_STARTED,
        EventKind.SESSION_ENDED,
        EventKind.SESSION_DISPUTED,
        EventKind.SESSION_DISPUTE_RESOLVED,
    }
)


def forget_watchers() -> None:
    """Drop the cached answer (tests, and a dashboard opening in this process)."""
    _watch_cache["until"] = 0.0


def dashboard_watched_cached() -> bool:
    """True while a dashboard is open: known locally, or asked at most once a second."""
    if nodes.local_watchers() > 0:
        return True
    now = time.monotonic()
    if now >= _watch_cache["until"]:
        _watch_cache["watched"] = dashboard_watched()
        _watch_cache["until"] = now + WATCH_CACHE_SECONDS
    return _watch_cache["watched"]


def _charge_points_message(pks: list[int]) -> dict | None:
    if len(pks) > PUSH_CARDS_MAX:
        return {"type": "dashboard.resync", "changed": len(pks)}
    cards = chargepoint_cards(charge_point_pks=pks)
    return {"type": "dashboard.charge_points", "charge_points": cards} if cards else None


def dashboard_message(event: Event) -> dict | None:
    """The channel-layer message that updates open dashboards after `event`."""
    payload = event.payload
    if event.kind == EventKind.CHARGE_POINT_CONNECTED:
        return _charge_points_message([payload["charge_point"]])
    if event.kind == EventKind.CHARGE_POINTS_DISCONNECTED:
        return _charge_points_message(sorted(set(payload["charge_points"])))
    if event.kind == EventKind.CONNECTOR_STATUS_CHANGED:
        return _charge_points_message([payload["charge_point"]])
    if event.kind in SESSION_KINDS:
        # Totals (running, disputed) are recounted by each dashboard.
        return {"type": "dashboard.summary", "transaction": payload["transaction"]}
    return None


def dashboard_push(event: Event) -> None:
    """Send the update for `event` to every open dashboard, without waiting for the layer."""
    kind = event.kind.split(".", 1)[0]
    try:
        message = dashboard_message(event)
        layer = get_channel_layer()
    except Exception:
        DASHBOARD_PUSHES.labels(kind, "failed").inc()
        raise
    if message is None or layer is None:
        return
    call_soon(
        "dashboard push",
        lambda: layer.group_send(DASHBOARD_GROUP, message),
        lambda result: DASHBOARD_PUSHES.labels(kind, result).inc(),
    )

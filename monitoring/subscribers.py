"""Monitoring's reactions to domain events: live dashboards and metrics."""

from events.kinds import EventKind
from events.subscribers import Event, Subscriber

from .live import dashboard_push, dashboard_watched_cached
from .metrics import ENERGY_DELIVERED_WH, INVOICES_ISSUED, SESSIONS_ENDED, SESSIONS_STARTED

dashboards = Subscriber(
    name="dashboards",
    kinds=frozenset(
        {
            EventKind.CHARGE_POINT_CONNECTED,
            EventKind.CHARGE_POINTS_DISCONNECTED,
            EventKind.CONNECTOR_STATUS_CHANGED,
            EventKind.SESSION_STARTED,
            EventKind.SESSION_ENDED,
            EventKind.SESSION_DISPUTED,
            EventKind.SESSION_DISPUTE_RESOLVED,
        }
    ),
    handle=dashboard_push,
    inline=True,
    # A dashboard refreshes itself every 30 s: an older push is worth nothing.
    # (Only a push that could not be built is retried; one the channel layer
    # could not take is dropped, and the dashboards resync when it is back.)
    max_age_seconds=120,
    wanted=dashboard_watched_cached,
)


def count(event: Event) -> None:
    """Count sessions, energy and invoices for Prometheus (this process's counters)."""
    if event.kind == EventKind.SESSION_STARTED:
        SESSIONS_STARTED.inc()
    elif event.kind == EventKind.SESSION_ENDED:
        SESSIONS_ENDED.inc()
        ENERGY_DELIVERED_WH.inc(max(int(event.payload.get("energy_wh") or 0), 0))
    elif event.kind == EventKind.INVOICE_ISSUED:
        INVOICES_ISSUED.labels(event.payload.get("currency") or "").inc()


metrics = Subscriber(
    name="metrics",
    kinds=frozenset({EventKind.SESSION_STARTED, EventKind.SESSION_ENDED, EventKind.INVOICE_ISSUED}),
    handle=count,
    inline=True,
)

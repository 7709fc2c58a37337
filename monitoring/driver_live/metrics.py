"""Prometheus metrics of the drivers' live channel (see docs/API.md, Live session channel)."""

from prometheus_client import Counter, Gauge

LIVE_CONNECTIONS = Gauge(
    "csms_driver_live_connections",
    "Drivers' live channel sockets open in this process",
    multiprocess_mode="livesum",
)
LIVE_REFUSALS = Counter(
    "csms_driver_live_refusals_total",
    "Live channel sockets closed by the server, by reason",
    ["reason"],
)
LIVE_PUSHES = Counter(
    "csms_driver_live_pushes_total",
    "Domain events pushed to live channel sockets, by event and result "
    "(sent; unwatched; skipped: nothing to tell; dropped: the channel layer was down or "
    "the push queue full; failed)",
    ["kind", "result"],
)
LIVE_MESSAGES = Counter(
    "csms_driver_live_messages_total",
    "Messages sent on live channel sockets, by type",
    ["type"],
)

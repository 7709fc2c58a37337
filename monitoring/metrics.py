"""Prometheus metrics of this process."""

from prometheus_client import Counter, Gauge

OCPP_MESSAGES = Counter(
    "csms_ocpp_calls_total",
    "CALLs received from charge points, by action and outcome",
    ["action", "outcome"],
)
OCPP_CONNECTIONS = Gauge("csms_ocpp_connections", "Charge point WebSockets open in this process")

"""How the outbox keeps up: deliveries and their lag, counted where they happen.

The backlog itself (pending messages, age of the oldest) is read from the
database at scrape time by the monitoring app.
"""

from prometheus_client import Counter, Histogram

OUTBOX_DELIVERIES = Counter(
    "csms_outbox_deliveries_total",
    "Domain events handed to a subscriber, by subscriber and outcome",
    ["subscriber", "outcome"],
)
OUTBOX_LAG_SECONDS = Histogram(
    "csms_outbox_delivery_lag_seconds",
    "Time from recording a domain event to its subscriber having handled it",
    ["subscriber"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)

"""Prometheus metrics of the system.

Counters and histograms live in the process that counts; with several
processes (Daphne x N, Celery workers) set PROMETHEUS_MULTIPROC_DIR to an
empty folder shared by all processes of a machine, before they start
(prometheus-client reads it when the metrics are created): each process then
writes its values to files there, and `/metrics` of any ASGI process
aggregates the machine. Figures about the network (running and disputed
sessions, billing failures, online charge points, nodes) come from the database
at scrape time (`DatabaseCollector`).
"""

from __future__ import annotations

import atexit
import logging
import os

from ocpp.v16.enums import Action
from ocpp.v201.enums import Action as Action201
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

# Label values: the actions of both versions spoken on /ocpp/{id}.
KNOWN_ACTIONS = frozenset(action.value for action in Action) | frozenset(
    action.value for action in Action201
)
# OCPP-J 1.6 section 4.2.3 and 2.0.1, with the specs' own spellings.
KNOWN_ERROR_CODES = frozenset(
    {
        "NotImplemented",
        "NotSupported",
        "InternalError",
        "ProtocolError",
        "SecurityError",
        "FormationViolation",
        "FormatViolation",
        "PropertyConstraintViolation",
        "OccurenceConstraintViolation",
        "OccurrenceConstraintViolation",
        "TypeConstraintViolation",
        "GenericError",
        "MessageTypeNotSupported",
        "RpcFrameworkError",
    }
)
MESSAGE_TYPES = {2: "call", 3: "callresult", 4: "callerror"}

# --- Counted by the processes ---------------------------------------------------

OCPP_MESSAGES = Counter(
    "csms_ocpp_calls_total",
    "CALLs received from charge points, by action and outcome",
    ["action", "outcome"],
)
OCPP_CONNECTIONS = Gauge(
    "csms_ocpp_connections",
    "Charge point WebSockets open in this process",
    multiprocess_mode="liveall",  # one series per live process (label pid)
)
OCPP_FRAMES = Counter(
    "csms_ocpp_frames_total",
    "OCPP-J frames received (in) and sent (out), by message type and action",
    ["direction", "message_type", "action"],
)
OCPP_CALL_ERRORS = Counter(
    "csms_ocpp_callerrors_total",
    "CALLERRORs received (in) and sent (out), by OCPP-J error code",
    ["direction", "code"],
)
OCPP_HANDLER_SECONDS = Histogram(
    "csms_ocpp_handler_seconds",
    "Time to answer a charge point's CALL (validation and handler), by action",
    ["action"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
OCPP_COMMANDS = Counter(
    "csms_ocpp_commands_total",
    "Commands sent to charge points, by action and outcome",
    ["action", "status"],
)
CELERY_TASKS = Counter(
    "csms_celery_tasks_total",
    "Celery task runs, by task and final state",
    ["task", "state"],
)
CELERY_TASK_SECONDS = Histogram(
    "csms_celery_task_seconds",
    "Run time of Celery tasks, by task",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0),
)
SESSIONS_STARTED = Counter("csms_sessions_started_total", "Charging sessions started")
SESSIONS_ENDED = Counter("csms_sessions_ended_total", "Charging sessions ended")
ENERGY_DELIVERED_WH = Counter(
    "csms_energy_delivered_wh_total", "Energy of ended charging sessions, in Wh"
)
INVOICES_ISSUED = Counter(
    "csms_invoices_issued_total", "Invoices issued, by currency", ["currency"]
)
JOURNAL_ROWS_DROPPED = Counter(
    "csms_journal_rows_dropped_total",
    "Message journal rows not written: bad_row (the database refused that row alone), "
    "database (the whole batch: database unreachable)",
    ["reason"],
)
DASHBOARD_PUSHES = Counter(
    "csms_dashboard_pushes_total",
    "Live dashboard pushes, by kind and result",
    ["kind", "result"],
)


def action_label(action) -> str:
    """An action as a label value: unknown names would make unbounded series."""
    return action if action in KNOWN_ACTIONS else ("" if not action else "unknown")


def error_code_label(code) -> str:
    return code if code in KNOWN_ERROR_CODES else "other"


_children: dict[tuple, object] = {}


def labelled(metric, *labels: str):
    """metric.labels(*labels), remembered: the lookup cost more than the count.

    Only for label values from a bounded set (actions, codes, outcomes).
    """
    key = (metric, labels)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*labels)
    return child


def count_frame(direction: str, message_type=None, action=None) -> None:
    """Count one frame; `message_type` None for frames that could not be parsed."""
    labelled(
        OCPP_FRAMES, direction, MESSAGE_TYPES.get(message_type, "invalid"), action_label(action)
    ).inc()


def count_call_error(direction: str, code) -> None:
    labelled(OCPP_CALL_ERRORS, direction, error_code_label(code)).inc()


def count_command(action, status) -> None:
    OCPP_COMMANDS.labels(action_label(action), str(status)).inc()


# --- Read from the database at scrape time --------------------------------------


class DatabaseCollector(Collector):
    """Network figures from the database; a failing query drops them, not the scrape."""

    def describe(self):
        return []  # no query when registered

    def collect(self):
        from django.db.models import Count, Q

        from billing.models import BillingFailure
        from events.selectors import outbox_backlog
        from stations.choices import SessionStatus
        from stations.models import ChargePoint, Transaction
        from stations.selectors import transaction_disputed_q

        from .models import Node, alive_cutoff
        from .selectors import ALARM_CODES, system_alarms

        up = GaugeMetricFamily(
            "csms_metrics_database_up", "1 when the database figures below could be read"
        )
        try:
            # Separate counts, each served by its partial index (no table scan).
            open_transactions = Transaction.objects.filter(status=SessionStatus.RUNNING).count()
            disputed = Transaction.objects.filter(transaction_disputed_q()).count()
            billing_failures = BillingFailure.objects.filter(resolved_at__isnull=True).count()
            charge_points = ChargePoint.objects.aggregate(
                total=Count("pk"), online=Count("pk", filter=Q(is_online=True))
            )
            alive = Q(stopped_at__isnull=True, last_seen__gte=alive_cutoff())
            nodes = list(
                Node.objects.values("kind")
                .annotate(total=Count("pk"), alive=Count("pk", filter=alive))
                .order_by("kind")
            )
            backlog = outbox_backlog()
            raised = {alarm["code"] for alarm in system_alarms()}
        except Exception:
            logger.warning("metrics: database figures unavailable", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily(
            "csms_open_transactions",
            "Charging sessions running now (a refused start never is)",
            value=open_transactions,
        )
        yield GaugeMetricFamily(
            "csms_disputed_sessions",
            "Disputed sessions waiting for an operator's decision (not billed until then)",
            value=disputed,
        )
        yield GaugeMetricFamily(
            "csms_billing_failures_unresolved",
            "Finished sessions that could not be invoiced and still have no invoice",
            value=billing_failures,
        )
        family = GaugeMetricFamily(
            "csms_charge_points", "Charge points by connection state", labels=["state"]
        )
        family.add_metric(["online"], charge_points["online"])
        family.add_metric(["offline"], charge_points["total"] - charge_points["online"])
        yield family
        family = GaugeMetricFamily(
            "csms_nodes", "Registered processes by kind and liveness", labels=["kind", "state"]
        )
        for row in nodes:
            family.add_metric([row["kind"], "alive"], row["alive"])
            family.add_metric([row["kind"], "dead"], row["total"] - row["alive"])
        yield family
        yield from _outbox_families(backlog)
        family = GaugeMetricFamily(
            "csms_alarm",
            "1 while an alarm of the dashboard is raised: no_worker (no live Celery worker), "
            "outbox_lag (invoicing events older than MONITORING_OUTBOX_LAG_ALARM_SECONDS)",
            labels=["alarm"],
        )
        for code in ALARM_CODES:
            family.add_metric([code], 1 if code in raised else 0)
        yield family


def _outbox_families(backlog):
    """Undelivered domain events per subscriber: how many, failing, the oldest's age."""
    pending = GaugeMetricFamily(
        "csms_outbox_pending", "Domain events not yet handled, by subscriber", labels=["subscriber"]
    )
    failing = GaugeMetricFamily(
        "csms_outbox_failing",
        "Undelivered domain events whose subscriber failed at least once",
        labels=["subscriber"],
    )
    oldest = GaugeMetricFamily(
        "csms_outbox_oldest_pending_seconds",
        "Age of the oldest undelivered domain event, by subscriber",
        labels=["subscriber"],
    )
    for row in backlog:
        pending.add_metric([row.subscriber], row.pending)
        failing.add_metric([row.subscriber], row.failing)
        oldest.add_metric([row.subscriber], row.oldest_seconds)
    yield from (pending, failing, oldest)


DATABASE_REGISTRY = CollectorRegistry(auto_describe=False)
DATABASE_REGISTRY.register(DatabaseCollector())


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition() -> bytes:
    """The text of /metrics: this process (or every process of the machine) and the database."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(DATABASE_REGISTRY)


def _process_exit() -> None:
    """Drop this process's live gauges from the shared folder."""
    try:
        multiprocess.mark_process_dead(os.getpid())
    except Exception:  # exiting anyway
        pass


if multiprocess_dir():
    atexit.register(_process_exit)

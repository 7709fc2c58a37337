"""Reads of the monitoring app: the registry and what the dashboard shows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, F, Max, Min, Prefetch, Q, QuerySet, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import BillingFailure
from devicemodel.models import DeviceEvent
from events.selectors import outbox_backlog
from events.subscribers import subscribers
from stations.choices import ChargePointErrorCode, ConnectorStatus, DisputeResolution, SessionStatus
from stations.models import ChargePoint, Connector, SecurityEvent, Transaction
from stations.selectors import transaction_disputed_q, transaction_energy_so_far, transaction_list

from .models import Node, NodeKind, alive_cutoff

GRID_LIMIT = 500
FAULT_LIMIT = 20
DEFAULT_OUTBOX_LAG_ALARM_SECONDS = 300.0


# --- The service registry ------------------------------------------------------


def channel_client_prefix(channel_name: str) -> str:
    """The part of a channel name that names the process owning it.

    channels-redis names channels "specific.<client prefix>!<random>", one
    client prefix per process; the in-memory layer uses "specific..inmemory!...".
    """
    head, sep, _ = channel_name.partition("!")
    return head.rsplit(".", 1)[-1] if sep else ""


def channel_stem(channel_name: str) -> str:
    """What every channel name of the same process starts with ("specific.<prefix>!")."""
    head, sep, _ = channel_name.partition("!")
    return head + sep if sep else ""


def node_list_alive(*, now: datetime | None = None) -> QuerySet[Node]:
    return Node.objects.filter(stopped_at__isnull=True, last_seen__gte=alive_cutoff(now))


def node_for_channel(*, channel_name: str) -> Node | None:
    """The ASGI node whose process owns this channel (the newest, for a shared prefix)."""
    prefix = channel_client_prefix(channel_name or "")
    if not prefix:
        return None
    return (
        Node.objects.filter(kind=NodeKind.ASGI, channel_prefix=prefix)
        .order_by(F("stopped_at").asc(nulls_first=True), "-last_seen")  # running ones first
        .first()
    )


def node_by_prefix(*, now: datetime | None = None) -> dict[str, Node]:
    """Live ASGI nodes by channel prefix, to name the node of many charge points at once."""
    nodes = node_list_alive(now=now).filter(kind=NodeKind.ASGI).order_by("last_seen")
    return {node.channel_prefix: node for node in nodes if node.channel_prefix}


def dashboard_watched(*, now: datetime | None = None) -> bool:
    """True while a live dashboard is open on any running node."""
    return node_list_alive(now=now).filter(dashboard_watchers__gt=0).exists()


# --- The dashboard -------------------------------------------------------------


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def connector_card(connector: Connector) -> dict:
    return {
        "connector_id": connector.connector_id,
        "status": connector.status,
        "error_code": connector.error_code,
        "info": connector.info,
        "timestamp": iso(connector.status_timestamp),
    }


def chargepoint_card(charge_point: ChargePoint, nodes: dict[str, Node]) -> dict:
    """What the dashboard grid shows of a charge point (JSON-ready)."""
    node = nodes.get(channel_client_prefix(charge_point.connection_channel))
    return {
        "pk": charge_point.pk,
        "id": charge_point.charge_point_id,
        "url": reverse("admin:stations_chargepoint_change", args=[charge_point.pk]),
        "station": charge_point.station.name if charge_point.station else "",
        "online": charge_point.is_online,
        "last_heartbeat": iso(charge_point.last_heartbeat),
        "node": str(node) if node and charge_point.is_online else "",
        "connectors": [connector_card(c) for c in charge_point.connectors.all()],
    }


def _chargepoints_with_connectors() -> QuerySet[ChargePoint]:
    return ChargePoint.objects.select_related("station").prefetch_related(
        Prefetch("connectors", queryset=Connector.objects.order_by("connector_id"))
    )


def chargepoint_cards(
    *, charge_point_pks: Iterable[int] | None = None, limit: int = GRID_LIMIT
) -> list[dict]:
    """Cards of the given charge points, or of the first `limit` by id."""
    queryset = _chargepoints_with_connectors().order_by("charge_point_id")
    if charge_point_pks is not None:
        queryset = queryset.filter(pk__in=list(charge_point_pks))
    nodes = node_by_prefix()
    return [chargepoint_card(cp, nodes) for cp in queryset[:limit]]


def energy_today_wh(*, now: datetime | None = None) -> int:
    """Energy of the sessions finished today plus what running sessions delivered so far.

    "Today" starts at midnight in the console's time zone. A running session
    that began before midnight counts whole: splitting it would read every
    meter value of every session at each refresh. Figures in doubt are left
    out: a session waiting for a decision on its dispute, or voided.
    """
    now = now or timezone.now()
    midnight = timezone.make_aware(
        datetime.combine(timezone.localdate(now), time.min), timezone.get_current_timezone()
    )
    in_doubt = transaction_disputed_q() | Q(dispute_resolution=DisputeResolution.VOIDED)
    finished = (
        Transaction.objects.filter(stop_timestamp__gte=midnight)
        .exclude(status__in=(SessionStatus.RUNNING, SessionStatus.REFUSED))
        .exclude(in_doubt)
        .aggregate(total=Sum("energy_wh"))["total"]
    )
    running = transaction_list().filter(status=SessionStatus.RUNNING).exclude(in_doubt)
    so_far = sum(transaction_energy_so_far(transaction=t) or 0 for t in running)
    return int(finished or 0) + so_far


def attention_counts() -> dict:
    """What waits for an operator: disputed sessions, sessions without their invoice."""
    return {
        "disputed_sessions": Transaction.objects.filter(transaction_disputed_q()).count(),
        "billing_failures_unresolved": BillingFailure.objects.filter(
            resolved_at__isnull=True
        ).count(),
    }


def attention_links() -> dict:
    """The console lists behind the dashboard's counts, filtered as counted."""
    return {
        "running_sessions": reverse("admin:stations_transaction_changelist")
        + f"?status__exact={SessionStatus.RUNNING}",
        "disputed_sessions": reverse("admin:stations_transaction_changelist") + "?disputed=waiting",
        "billing_failures_unresolved": reverse("admin:billing_billingfailure_changelist")
        + "?resolved_at__isempty=1",
    }


def dashboard_summary(*, now: datetime | None = None) -> dict:
    """The counts at the top of the dashboard (a handful of aggregate queries)."""
    charge_points = ChargePoint.objects.aggregate(
        total=Count("pk"), online=Count("pk", filter=Q(is_online=True))
    )
    by_status = dict.fromkeys(ConnectorStatus.values, 0)
    rows = (
        Connector.objects.filter(connector_id__gt=0)
        .values_list("status")
        .annotate(count=Count("pk"))
        .order_by()
    )
    for status, count in rows:
        by_status[status] = count
    nodes = Node.objects.aggregate(
        total=Count("pk"),
        alive=Count("pk", filter=Q(stopped_at__isnull=True, last_seen__gte=alive_cutoff(now))),
    )
    return {
        "charge_points": {
            "online": charge_points["online"],
            "offline": charge_points["total"] - charge_points["online"],
            "total": charge_points["total"],
        },
        "connectors": by_status,
        "open_transactions": Transaction.objects.filter(status=SessionStatus.RUNNING).count(),
        **attention_counts(),
        "energy_today_wh": energy_today_wh(now=now),
        "nodes": {"alive": nodes["alive"], "dead": nodes["total"] - nodes["alive"]},
    }


def dashboard_faults(*, limit: int = FAULT_LIMIT) -> list[dict]:
    """Connectors now Faulted or reporting an error code, newest first."""
    faulted = (
        Connector.objects.filter(
            Q(status=ConnectorStatus.FAULTED)
            | ~Q(error_code__in=[ChargePointErrorCode.NO_ERROR, ""])
        )
        .select_related("charge_point")
        .order_by("-status_timestamp", "-pk")[:limit]
    )
    return [
        {
            "charge_point": c.charge_point.charge_point_id,
            "url": reverse("admin:stations_chargepoint_change", args=[c.charge_point_id]),
            "connector_id": c.connector_id,
            "status": c.status,
            "error_code": c.error_code,
            "info": c.info,
            "vendor_error_code": c.vendor_error_code,
            "timestamp": iso(c.status_timestamp),
        }
        for c in faulted
    ]


def dashboard_snapshot() -> dict:
    """Everything the dashboard shows, in one JSON-ready dict."""
    return {
        "summary": dashboard_summary(),
        "alarms": system_alarms(),
        "charge_points": chargepoint_cards(),
        "faults": dashboard_faults(),
        "grid_limit": GRID_LIMIT,
        "links": attention_links(),
    }


# --- Alarms: what keeps invoicing from happening ----------------------------------


@dataclass(frozen=True)
class WorkerHealth:
    alive: int
    last_seen: datetime | None

    @property
    def problem(self) -> str:
        if self.last_seen is None:
            return _("No Celery worker has ever registered: invoices and sweeps do not run.")
        return _("No live Celery worker since %(when)s: invoices and sweeps do not run.") % {
            "when": timezone.localtime(self.last_seen).strftime("%Y-%m-%d %H:%M:%S %Z")
        }


def worker_health(*, now: datetime | None = None) -> WorkerHealth:
    """Live Celery workers (service registry), and when one was last heard of."""
    row = Node.objects.filter(kind=NodeKind.CELERY).aggregate(
        alive=Count("pk", filter=Q(stopped_at__isnull=True, last_seen__gte=alive_cutoff(now))),
        last_seen=Max("last_seen"),
    )
    return WorkerHealth(alive=row["alive"], last_seen=row["last_seen"])


def outbox_lag_threshold() -> float:
    return float(
        getattr(settings, "MONITORING_OUTBOX_LAG_ALARM_SECONDS", DEFAULT_OUTBOX_LAG_ALARM_SECONDS)
    )


@dataclass(frozen=True)
class OutboxLag:
    pending: int
    oldest_seconds: float
    subscriber: str
    threshold_seconds: float

    @property
    def late(self) -> bool:
        return self.pending > 0 and self.oldest_seconds > self.threshold_seconds

    @property
    def problem(self) -> str:
        return _(
            "%(count)d domain events wait for delivery, the oldest (to %(subscriber)s) for "
            "%(minutes)d min: invoices are late."
        ) % {
            "count": self.pending,
            "subscriber": self.subscriber,
            "minutes": self.oldest_seconds // 60,
        }


def outbox_lag(*, now: datetime | None = None) -> OutboxLag:
    """The backlog of the durable subscribers (invoicing): the live ones heal themselves."""
    durable = {name for name, subscriber in subscribers().items() if not subscriber.inline}
    backlog = [row for row in outbox_backlog(now=now) if row.subscriber in durable]
    oldest = max(backlog, key=lambda row: row.oldest_seconds, default=None)
    return OutboxLag(
        pending=sum(row.pending for row in backlog),
        oldest_seconds=oldest.oldest_seconds if oldest else 0.0,
        subscriber=oldest.subscriber if oldest else "",
        threshold_seconds=outbox_lag_threshold(),
    )


ALARM_NO_WORKER = "no_worker"
ALARM_OUTBOX_LAG = "outbox_lag"
ALARM_CRITICAL_SECURITY_EVENTS = "critical_security_events"
ALARM_DEVICE_PROBLEM = "device_problem"
ALARM_CODES = (
    ALARM_NO_WORKER,
    ALARM_OUTBOX_LAG,
    ALARM_CRITICAL_SECURITY_EVENTS,
    ALARM_DEVICE_PROBLEM,
)


def device_problem_alarm() -> dict | None:
    """Problems OCPP 2.0.1 stations reported (NotifyEvent) and have not cleared, or None.

    An alert, or an event of a monitor of severity 0-3 (Danger .. Critical),
    stays raised until the station reports the return to normal or an
    operator closes it in the console.
    """
    summary = DeviceEvent.objects.filter(is_problem=True, cleared_at__isnull=True).aggregate(
        count=Count("pk"),
        since=Min("timestamp"),
        charge_points=Count("charge_point", distinct=True),
    )
    if not summary["count"]:
        return None
    return {
        "code": ALARM_DEVICE_PROBLEM,
        "severity": "warning",
        "message": _("%(count)d problems reported by %(cps)d charge points and not cleared.")
        % {"count": summary["count"], "cps": summary["charge_points"]},
        "since": iso(summary["since"]),
        "url": reverse("admin:devicemodel_deviceevent_changelist") + "?open_problem=yes",
    }


def critical_security_events_alarm(*, now: datetime | None = None) -> dict | None:
    """Critical security events charge points reported lately (tampering, log cleared...)."""
    hours = settings.MONITORING_SECURITY_ALARM_HOURS
    recent = SecurityEvent.objects.filter(
        critical=True, received_at__gte=(now or timezone.now()) - timedelta(hours=hours)
    ).aggregate(count=Count("pk"), first=Min("received_at"))
    if not recent["count"]:
        return None
    return {
        "code": ALARM_CRITICAL_SECURITY_EVENTS,
        "severity": "critical",
        "message": _("%(count)d critical security events reported in the last %(hours)d h.")
        % {"count": recent["count"], "hours": hours},
        "since": iso(recent["first"]),
        "url": reverse("admin:stations_securityevent_changelist") + "?critical__exact=1",
    }


def system_alarms(*, now: datetime | None = None) -> list[dict]:
    """What stops or delays invoicing now, for the dashboard and the metrics (JSON-ready)."""
    alarms = []
    workers = worker_health(now=now)
    if not workers.alive:
        alarms.append(
            {
                "code": ALARM_NO_WORKER,
                "severity": "critical",
                "message": workers.problem,
                "since": iso(workers.last_seen),
                "url": reverse("admin:monitoring_node_changelist") + "?state=dead",
            }
        )
    lag = outbox_lag(now=now)
    if lag.late:
        alarms.append(
            {
                "code": ALARM_OUTBOX_LAG,
                "severity": "warning",
                "message": lag.problem,
                "since": iso((now or timezone.now()) - timedelta(seconds=lag.oldest_seconds)),
                "url": reverse("admin:events_outboxmessage_changelist"),
            }
        )
    security = critical_security_events_alarm(now=now)
    if security:
        alarms.append(security)
    device_problem = device_problem_alarm()
    if device_problem:
        alarms.append(device_problem)
    return alarms

"""Reads of the monitoring app: the registry and what the dashboard shows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, F, Max, Min, Prefetch, Q, QuerySet, prefetch_related_objects
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.reports import energy_delivered_wh, period_today
from devicemodel.models import DeviceEvent
from events.selectors import outbox_backlog
from events.subscribers import subscribers
from stations.choices import ConnectorStatus, SessionStatus
from stations.models import ChargePoint, Connector, SecurityEvent, Transaction

from .grid import GridQuery, card_rank, connector_problem_q, grid_page, grid_queryset
from .models import Node, NodeKind, alive_cutoff
from .money import dashboard_money, dashboard_sessions, operator_zone
from .problems import attention_counts, attention_links, dashboard_problems

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
    """What the dashboard grid shows of a charge point (JSON-ready).

    `rank` (monitoring.grid.RANK_*) places it on the grid; the charge point
    comes annotated by grid.attention_annotations.
    """
    node = nodes.get(channel_client_prefix(charge_point.connection_channel))
    card = {
        "pk": charge_point.pk,
        "id": charge_point.charge_point_id,
        "url": reverse("admin:stations_chargepoint_change", args=[charge_point.pk]),
        "station": charge_point.station.name if charge_point.station else "",
        "station_id": charge_point.station_id,
        "online": charge_point.is_online,
        "running": bool(getattr(charge_point, "has_running_session", False)),
        "last_heartbeat": iso(charge_point.last_heartbeat),
        "node": str(node) if node and charge_point.is_online else "",
        "connectors": [connector_card(c) for c in charge_point.connectors.all()],
    }
    card["rank"] = card_rank(card)
    return card


def _with_connectors(queryset: QuerySet[ChargePoint]) -> QuerySet[ChargePoint]:
    return queryset.prefetch_related(
        Prefetch("connectors", queryset=Connector.objects.order_by("connector_id"))
    )


def chargepoint_cards(*, charge_point_pks: Iterable[int]) -> list[dict]:
    """Cards of the given charge points (a push), in grid order; three queries."""
    queryset = grid_queryset(GridQuery()).filter(pk__in=list(charge_point_pks))
    nodes = node_by_prefix()
    return [chargepoint_card(cp, nodes) for cp in _with_connectors(queryset)]


def dashboard_grid(*, query: GridQuery | None = None) -> dict:
    """One page of the grid: its cards and where it is (four queries, whatever the page)."""
    page = grid_page(query or GridQuery())
    nodes = node_by_prefix()
    charge_points = page.charge_points
    prefetch_related_objects(
        charge_points, Prefetch("connectors", queryset=Connector.objects.order_by("connector_id"))
    )
    return {
        "charge_points": [chargepoint_card(cp, nodes) for cp in charge_points],
        "grid": page.as_json(),
    }


def energy_today_wh(*, now: datetime | None = None) -> int:
    """Energy of the sessions finished today plus what running sessions delivered so far.

    "Today" starts at midnight in the console's time zone; see
    billing.reports.energy_delivered_wh for what counts.
    """
    start, _end = period_today(now=now or timezone.now(), zone=operator_zone())
    return energy_delivered_wh(since=start)


def dashboard_summary(*, now: datetime | None = None) -> dict:
    """The counts at the top of the dashboard (a handful of aggregate queries).

    Energy and money are not recounted with every change (they move with
    meter values, not events): dashboard_money has them.
    """
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
        "nodes": {"alive": nodes["alive"], "dead": nodes["total"] - nodes["alive"]},
    }


def dashboard_faults(*, limit: int = FAULT_LIMIT) -> list[dict]:
    """Connectors now Faulted or reporting an error code, newest first."""
    faulted = (
        Connector.objects.filter(connector_problem_q())
        .select_related("charge_point")
        .order_by(F("status_timestamp").desc(nulls_last=True), "-pk")[:limit]
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


def dashboard_live_counts(*, now: datetime | None = None) -> dict:
    """What a change of a charge point or a session may change: counts, problems, faults."""
    return {
        "summary": dashboard_summary(now=now),
        "problems": dashboard_problems(),
        "faults": dashboard_faults(),
    }


def dashboard_money_and_sessions(*, now: datetime | None = None) -> dict:
    """What moves with meter values and invoices: refreshed less often than the counts."""
    now = now or timezone.now()
    return {"money": dashboard_money(now=now), "sessions": dashboard_sessions(now=now)}


def dashboard_snapshot(*, grid: GridQuery | None = None, now: datetime | None = None) -> dict:
    """Everything the dashboard shows, in one JSON-ready dict (a bounded number of queries)."""
    now = now or timezone.now()
    snapshot = {
        **dashboard_live_counts(now=now),
        "alarms": system_alarms(now=now),
        **dashboard_grid(query=grid),
        **dashboard_money_and_sessions(now=now),
        "links": attention_links(),
    }
    # The tile of old: today's energy, also in the summary.
    snapshot["summary"]["energy_today_wh"] = snapshot["money"]["energy"]["today_wh"]
    return snapshot


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

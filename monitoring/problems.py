"""What needs an operator now: the "needs attention" panel at the top of the dashboard.

Each problem is a count, the console list behind it (filtered to exactly
what was counted) and, for the kinds an operator acts on from the
dashboard, its first rows with the quick actions that may help. A fixed
number of queries, whatever the size of the network: counts are
aggregates, rows are capped at PROBLEM_ROWS per kind.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin
from django.db.models import Count, F, Q
from django.urls import reverse

from billing.models import BillingFailure
from stations.choices import ConnectorStatus, RegistrationStatus, SessionStatus
from stations.models import ChargePoint, Connector, Transaction
from stations.selectors import transaction_disputed_q

PROBLEM_ROWS = 10

# The kinds, in the order the panel lists them (the most urgent first).
FAULTED = "faulted"
OFFLINE_SESSIONS = "offline_sessions"
UNAVAILABLE = "unavailable"
BILLING_FAILURES = "billing_failures"
DISPUTED = "disputed"
PENDING = "pending"
PROBLEM_KINDS = (FAULTED, OFFLINE_SESSIONS, UNAVAILABLE, BILLING_FAILURES, DISPUTED, PENDING)

# The quick commands (ocpp_consumer's /admin/ocpp_consumer/command/quick/) offered per row.
QUICK_UNLOCK, QUICK_RESET_SOFT, QUICK_RESET_HARD = "unlock", "reset_soft", "reset_hard"
QUICK_MAKE_AVAILABLE, QUICK_STOP = "make_available", "stop"
# The parameter of the charge point list's connector status filter (stations admin).
CONNECTOR_STATUS_PARAM = "connector_status"


def iso(value) -> str | None:
    return value.isoformat() if value else None


def changelist(name: str, **params) -> str:
    url = reverse(f"admin:{name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def attention_counts() -> dict:
    """What waits for an operator's decision: disputed sessions, sessions without their invoice."""
    return {
        "disputed_sessions": Transaction.objects.filter(transaction_disputed_q()).count(),
        "billing_failures_unresolved": BillingFailure.objects.filter(
            resolved_at__isnull=True
        ).count(),
    }


def attention_links() -> dict:
    """The console lists behind the dashboard's counts, filtered as counted."""
    return {
        "running_sessions": changelist("stations_transaction", status__exact=SessionStatus.RUNNING),
        "disputed_sessions": changelist("stations_transaction", disputed="waiting"),
        "billing_failures_unresolved": changelist("billing_billingfailure", resolved_at__isempty=1),
        "offline_sessions": changelist(
            "stations_transaction", status__exact=SessionStatus.RUNNING, cp_online="no"
        ),
        "faulted": changelist("stations_connector", status__exact=ConnectorStatus.FAULTED),
        "faulted_charge_points": changelist(
            "stations_chargepoint", **{CONNECTOR_STATUS_PARAM: ConnectorStatus.FAULTED}
        ),
        "unavailable": changelist("stations_connector", status__exact=ConnectorStatus.UNAVAILABLE),
        "pending": changelist(
            "stations_chargepoint", registration_status__exact=RegistrationStatus.PENDING
        ),
    }


def chargepoint_list_filters_connector_status() -> bool:
    """Whether the charge point list offers the connector status filter (stations admin)."""
    try:
        model_admin = admin.site.get_model_admin(ChargePoint)
    except admin.exceptions.NotRegistered:
        return False
    return any(
        getattr(entry, "parameter_name", None) == CONNECTOR_STATUS_PARAM
        for entry in model_admin.list_filter
    )


def connector_actions(*, connector_id: int, status: str, online: bool) -> list[str]:
    """The quick commands worth offering for a connector in trouble (none while offline)."""
    if not online:
        return []
    if status == ConnectorStatus.UNAVAILABLE:
        return [QUICK_MAKE_AVAILABLE]
    actions = [QUICK_UNLOCK] if connector_id > 0 else []
    return actions + [QUICK_RESET_SOFT, QUICK_RESET_HARD, QUICK_MAKE_AVAILABLE]


def _connector_rows(status: str) -> list[dict]:
    connectors = (
        Connector.objects.filter(status=status)
        .select_related("charge_point")
        .order_by(F("status_timestamp").desc(nulls_last=True), "-pk")[:PROBLEM_ROWS]
    )
    return [
        {
            "charge_point": c.charge_point.charge_point_id,
            "charge_point_pk": c.charge_point_id,
            "url": reverse("admin:stations_chargepoint_change", args=[c.charge_point_id]),
            "online": c.charge_point.is_online,
            "connector_id": c.connector_id,
            "status": c.status,
            "error_code": c.error_code,
            "info": c.info,
            "vendor_error_code": c.vendor_error_code,
            "timestamp": iso(c.status_timestamp),
            "actions": connector_actions(
                connector_id=c.connector_id, status=c.status, online=c.charge_point.is_online
            ),
        }
        for c in connectors
    ]


def _offline_session_rows(sessions) -> list[dict]:
    rows = sessions.select_related("charge_point", "connector").order_by("start_timestamp", "pk")[
        :PROBLEM_ROWS
    ]
    return [
        {
            "transaction": t.pk,
            "url": reverse("admin:stations_transaction_change", args=[t.pk]),
            "charge_point": t.charge_point.charge_point_id,
            "charge_point_url": reverse(
                "admin:stations_chargepoint_change", args=[t.charge_point_id]
            ),
            "connector_id": t.connector.connector_id,
            "start": iso(t.start_timestamp),
            "last_seen": iso(t.charge_point.last_seen),
        }
        for t in rows
    ]


def _pending_rows(pending) -> list[dict]:
    return [
        {
            "charge_point": cp.charge_point_id,
            "url": reverse("admin:stations_chargepoint_change", args=[cp.pk]),
            "online": cp.is_online,
            "vendor": cp.vendor,
            "model": cp.model,
            "created_at": iso(cp.created_at),
        }
        for cp in pending.order_by("-created_at", "-pk")[:PROBLEM_ROWS]
    ]


def dashboard_problems() -> list[dict]:
    """Every kind of problem: count, link and first rows (JSON-ready), in PROBLEM_KINDS order.

    Kinds without rows (billing failures, disputes) are decided on their
    own console pages; a kind with no problem is listed with count 0, so
    that a live update can clear it.
    """
    links = attention_links()
    connectors = Connector.objects.aggregate(
        faulted=Count("pk", filter=Q(status=ConnectorStatus.FAULTED)),
        unavailable=Count("pk", filter=Q(status=ConnectorStatus.UNAVAILABLE)),
    )
    offline_sessions = Transaction.objects.filter(
        status=SessionStatus.RUNNING, charge_point__is_online=False
    )
    pending = ChargePoint.objects.filter(registration_status=RegistrationStatus.PENDING)
    counts = attention_counts()
    problems = {
        FAULTED: {
            "count": connectors["faulted"],
            "url": links["faulted"],
            "charge_points_url": links["faulted_charge_points"]
            if chargepoint_list_filters_connector_status()
            else "",
            "rows": _connector_rows(ConnectorStatus.FAULTED) if connectors["faulted"] else [],
        },
        OFFLINE_SESSIONS: {
            "count": (offline_count := offline_sessions.count()),
            "url": links["offline_sessions"],
            "rows": _offline_session_rows(offline_sessions) if offline_count else [],
        },
        UNAVAILABLE: {
            "count": connectors["unavailable"],
            "url": links["unavailable"],
            "rows": _connector_rows(ConnectorStatus.UNAVAILABLE)
            if connectors["unavailable"]
            else [],
        },
        BILLING_FAILURES: {
            "count": counts["billing_failures_unresolved"],
            "url": links["billing_failures_unresolved"],
            "rows": [],
        },
        DISPUTED: {
            "count": counts["disputed_sessions"],
            "url": links["disputed_sessions"],
            "rows": [],
        },
        PENDING: {
            "count": (pending_count := pending.count()),
            "url": links["pending"],
            "rows": _pending_rows(pending) if pending_count else [],
        },
    }
    return [{"kind": kind, **problems[kind]} for kind in PROBLEM_KINDS]


def problems_total(problems: list[dict], alarms: list[dict]) -> int:
    """How many things need attention (the panel's headline; 0: all is well)."""
    return sum(problem["count"] for problem in problems) + len(alarms)

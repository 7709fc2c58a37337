import copy
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from prometheus_client import CONTENT_TYPE_LATEST

from stations.choices import ChargePointErrorCode, ConnectorStatus

from .checks import readiness, run_checks
from .console import choice_label, status_class
from .grid import GridForm, GridQuery
from .metrics import exposition
from .problems import (
    BILLING_FAILURES,
    DISPUTED,
    FAULTED,
    OFFLINE_SESSIONS,
    PENDING,
    QUICK_MAKE_AVAILABLE,
    QUICK_RESET_HARD,
    QUICK_RESET_SOFT,
    QUICK_STOP,
    QUICK_UNLOCK,
    UNAVAILABLE,
    problems_total,
)
from .selectors import dashboard_snapshot


async def healthz(request):
    return JsonResponse({"status": "ok"})


async def readyz(request):
    """Readiness for load balancers (the status code) and humans (the body).

    503 when the database, the channel layer or the broker does not answer;
    200 otherwise, with "degraded" while workers are missing or the outbox
    lags (charging works, invoices wait). monitoring.checks says why.
    """
    body, status = readiness(await run_checks())
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    return response


def metrics(request):
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


# Who may command charge points (as ocpp_consumer's quick command view requires).
COMMAND_PERMISSION = "stations.change_chargepoint"


def quick_command_url(user=None) -> str:
    """Where the quick command forms post (ocpp_consumer's console); "" for no buttons.

    No buttons for a user who may not command charge points, and none
    rather than a failing page while the quick command view is not installed.
    """
    if user is not None and not user.has_perm(COMMAND_PERMISSION):
        return ""
    try:
        return reverse("admin:ocpp_consumer_command_quick")
    except NoReverseMatch:
        return ""


def format_duration(seconds: int) -> str:
    """H:MM:SS (hours beyond 24 go on counting), as dashboard.js writes it."""
    seconds = max(int(seconds), 0)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def format_kwh(wh: int | None, places: int = 2) -> str:
    return "—" if wh is None else f"{wh / 1000:.{places}f}"


def format_money(amount: str, currency: str) -> str:
    value = number_format(Decimal(amount), decimal_pos=2, use_l10n=True, force_grouping=True)
    return f"{value} {currency}"


PROBLEM_LABELS = {
    FAULTED: _lazy("faulted connectors"),
    OFFLINE_SESSIONS: _lazy("running sessions on offline charge points"),
    UNAVAILABLE: _lazy("unavailable connectors"),
    BILLING_FAILURES: _lazy("billing failures"),
    DISPUTED: _lazy("disputed sessions waiting for a decision"),
    PENDING: _lazy("charge points waiting for acceptance"),
}
PROBLEM_HELP = {
    OFFLINE_SESSIONS: _lazy(
        "The session goes on unseen while the charge point is offline; its stop may arrive late."
    ),
    BILLING_FAILURES: _lazy(
        "Finished sessions that could not be invoiced: fix the cause, then retry."
    ),
    DISPUTED: _lazy(
        "Disputed sessions are not billed until an operator accepts, corrects or voids them."
    ),
}
# Ids the console's tests and bookmarks know from the tiles of old.
PROBLEM_IDS = {
    DISPUTED: ("link-disputed-sessions", "count-disputed-sessions"),
    BILLING_FAILURES: ("link-billing-failures", "count-billing-failures"),
}
ACTION_LABELS = {
    QUICK_UNLOCK: _lazy("Unlock"),
    QUICK_RESET_SOFT: _lazy("Reset"),
    QUICK_RESET_HARD: _lazy("Hard reset"),
    QUICK_MAKE_AVAILABLE: _lazy("Make available"),
    QUICK_STOP: _lazy("Stop"),
}
ACTION_CONFIRMS = {
    QUICK_RESET_HARD: _lazy("Restart the charge point now, ending every running session?"),
    QUICK_STOP: _lazy("Stop this session?"),
}


def _labelled(snapshot: dict) -> dict:
    """The snapshot with the labels the server-rendered page shows (request language)."""
    snapshot = copy.deepcopy(snapshot)
    for card in snapshot["charge_points"]:
        for connector in card["connectors"]:
            connector["label"] = choice_label(ConnectorStatus, connector["status"])
            connector["css"] = status_class(connector["status"])
    for fault in snapshot["faults"]:
        fault["status_label"] = choice_label(ConnectorStatus, fault["status"])
        fault["error_label"] = choice_label(ChargePointErrorCode, fault["error_code"])
    for problem in snapshot["problems"]:
        problem["label"] = PROBLEM_LABELS[problem["kind"]]
        problem["help"] = PROBLEM_HELP.get(problem["kind"], "")
        problem["link_id"], problem["count_id"] = PROBLEM_IDS.get(
            problem["kind"], (f"link-problem-{problem['kind']}", f"count-problem-{problem['kind']}")
        )
        for row in problem["rows"]:
            if "status" in row:
                row["status_label"] = choice_label(ConnectorStatus, row["status"])
                row["error_label"] = choice_label(ChargePointErrorCode, row["error_code"])
                row["css"] = status_class(row["status"])
            row["action_forms"] = [
                {"quick": a, "label": ACTION_LABELS[a], "confirm": ACTION_CONFIRMS.get(a, "")}
                for a in row.get("actions", ())
            ]
        problem["more"] = problem["count"] - len(problem["rows"]) if problem["rows"] else 0
    summary = snapshot["summary"]
    summary["energy_today_kwh"] = format_kwh(summary["energy_today_wh"], 1)
    money = snapshot["money"]
    money["energy"]["today_kwh"] = format_kwh(money["energy"]["today_wh"], 1)
    money["energy"]["month_kwh"] = format_kwh(money["energy"]["month_wh"], 1)
    for period in ("today", "month"):
        for total in money["revenue"][period]:
            total["display"] = format_money(total["total"], total["currency"])
    for row in snapshot["sessions"]["rows"]:
        row["energy_kwh"] = format_kwh(row["energy_wh"])
        row["duration"] = format_duration(row["duration_s"])
        row["cost_display"] = (
            format_money(row["cost"]["total"], row["cost"]["currency"]) if row["cost"] else ""
        )
    counts = summary["connectors"]
    snapshot["connector_counts"] = [
        {"status": value, "label": label, "count": counts.get(value, 0), "css": status_class(value)}
        for value, label in ConnectorStatus.choices
    ]
    snapshot["problems_total"] = problems_total(snapshot["problems"], snapshot["alarms"])
    return snapshot


def _page_links(query: GridQuery, grid: dict) -> dict:
    def link(number: int) -> str:
        return "?" + urlencode(query.params(page=number))

    number, pages = grid["page"], grid["pages"]
    return {
        "previous": link(number - 1) if number > 1 else "",
        "next": link(number + 1) if number < pages else "",
        "first": link(1) if number > 2 else "",
        "last": link(pages) if number < pages - 1 else "",
    }


def _labels() -> dict:
    """What dashboard.js writes, in the request's language."""
    return {
        "statuses": {value: str(label) for value, label in ConnectorStatus.choices},
        "errors": {value: str(label) for value, label in ChargePointErrorCode.choices},
        "problems": {kind: str(label) for kind, label in PROBLEM_LABELS.items()},
        "actions": {action: str(label) for action, label in ACTION_LABELS.items()},
        "confirms": {action: str(label) for action, label in ACTION_CONFIRMS.items()},
        "online": _("Online"),
        "offline": _("Offline"),
        "chargePoint": _("Charge point"),
        "live": _("Live"),
        "connecting": _("Connecting…"),
        "disconnected": _("Connection lost: reconnecting…"),
        "noFaults": _("No faults."),
        "noHeartbeat": _("no heartbeat yet"),
        "lastHeartbeat": _("last heartbeat"),
        "node": _("node"),
        "details": _("Details"),
        "more": _("and %(count)s more"),
        "noSessions": _("No session is running."),
        "noRevenue": _("no invoice yet"),
        "offlineNoCommand": _("offline: commands wait until it is back"),
        "lastSeen": _("last seen"),
        "since": _("since"),
        "page": _("Page %(page)s of %(pages)s (%(count)s charge points)"),
        "noMatch": _("No charge point matches this search."),
    }


def dashboard(request):
    """The network dashboard (admin, staff only): problems first, money, sessions, the grid."""
    form = GridForm(request.GET or None)
    query = GridQuery.from_form(form) if request.GET else GridQuery()
    snapshot = _labelled(dashboard_snapshot(grid=query))
    context = {
        **admin.site.each_context(request),
        "title": _("Network dashboard"),
        "snapshot": snapshot,
        "labels": _labels(),
        "form": form if request.GET else GridForm(),
        "query": query,
        "pages": _page_links(query, snapshot["grid"]),
        "quick_url": quick_command_url(request.user),
        "stop_actions": [
            {
                "quick": QUICK_STOP,
                "label": ACTION_LABELS[QUICK_STOP],
                "confirm": ACTION_CONFIRMS[QUICK_STOP],
            }
        ],
        "next_url": request.get_full_path(),
        "time_zone": settings.TIME_ZONE,
    }
    return TemplateResponse(request, "admin/monitoring/dashboard.html", context)


dashboard_view = admin.site.admin_view(dashboard)

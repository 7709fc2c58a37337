import copy

from django.contrib import admin
from django.http import HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from prometheus_client import CONTENT_TYPE_LATEST

from stations.choices import ChargePointErrorCode, ConnectorStatus

from .checks import readiness, run_checks
from .console import choice_label, status_class
from .metrics import exposition
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
    summary = snapshot["summary"]
    summary["energy_today_kwh"] = f"{summary['energy_today_wh'] / 1000:.1f}"
    counts = summary["connectors"]
    snapshot["connector_counts"] = [
        {"status": value, "label": label, "count": counts.get(value, 0), "css": status_class(value)}
        for value, label in ConnectorStatus.choices
    ]
    return snapshot


def dashboard(request):
    """The network dashboard (admin, staff only): counts, live grid, faults."""
    snapshot = dashboard_snapshot()
    labels = {
        "statuses": {value: str(label) for value, label in ConnectorStatus.choices},
        "errors": {value: str(label) for value, label in ChargePointErrorCode.choices},
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
    }
    context = {
        **admin.site.each_context(request),
        "title": _("Network dashboard"),
        "snapshot": _labelled(snapshot),
        "labels": labels,
    }
    return TemplateResponse(request, "admin/monitoring/dashboard.html", context)


dashboard_view = admin.site.admin_view(dashboard)

"""The charge point's "Send command" page: a typed form per action, raw JSON for experts.

The action is chosen from the groups of the charge point's OCPP version;
its form is generated from that version's schema (console_forms). The
expert mode (a <details> under the form) sends any payload as typed JSON,
as the page always could. Both send through the one command path and come
back to the charge point with a message whose colour says the outcome.
"""

from __future__ import annotations

from django.db.models import Max
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from stations.choices import ConnectorStatus, SessionStatus
from stations.models import ChargePoint, Reservation, Transaction

from . import commands
from .admin_sending import command_run, report_outcome
from .commands.validation import command_actions
from .console_forms import (
    IDTAG_DATALIST,
    SESSION_DATALIST,
    CommandContext,
    CommandForm,
    TypedCommandForm,
    example_payloads,
    grouped_action_choices,
)
from .framing import V201

DEFAULT_ACTION = "Reset"  # in both versions
TYPED, EXPERT = "typed", "expert"
# Running sessions offered as suggestions: a charge point has a few at once.
SESSION_SUGGESTIONS = 20


def command_page(modeladmin, request, charge_point: ChargePoint):
    """GET: the forms for ?action= (and ?mode=expert); POST: send, then back to the charge point."""
    version = charge_point.ocpp_version
    examples = example_payloads(version)
    source = request.POST if request.method == "POST" else request.GET
    action = source.get("action") or DEFAULT_ACTION
    if action not in command_actions(version):
        # An expert post keeps it: the form says it is not one of the version's.
        action = action if request.method == "POST" else DEFAULT_ACTION
    if request.method == "POST":
        # An expert post is any post that is not the typed form's (the JSON
        # form was the page's only one before; scripts may still post it).
        mode = TYPED if request.POST.get("mode") == TYPED else EXPERT
    else:
        mode = EXPERT if request.GET.get("mode") == EXPERT else TYPED
    posted_typed = request.method == "POST" and mode == TYPED
    posted_expert = request.method == "POST" and mode == EXPERT
    typed = None
    if action in command_actions(version):
        typed = TypedCommandForm(
            request.POST if posted_typed else None,
            action=action,
            context=command_context(charge_point, action),
        )
    expert = CommandForm(
        request.POST if posted_expert else None,
        initial={"action": action, "payload": examples.get(action, {})},
        version=version,
    )
    sent = None
    if posted_typed and typed is not None and typed.is_valid():
        sent = _send(request, charge_point, typed, action=action, payload=typed.payload)
    elif posted_expert and expert.is_valid():
        sent = _send(
            request,
            charge_point,
            expert,
            action=expert.cleaned_data["action"],
            payload=expert.cleaned_data["payload"],
        )
    if sent is not None:
        return sent
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "original": charge_point,
        "title": _("Send a command to %(id)s") % {"id": charge_point.charge_point_id},
        "action": action,
        "action_groups": grouped_action_choices(version),
        "typed_form": typed,
        "form": expert,
        "expert_open": mode == EXPERT or bool(expert.errors),
        "examples": examples,
        "ocpp_version": version,
        "idtag_datalist": IDTAG_DATALIST,
        "session_datalist": SESSION_DATALIST,
        "sessions": typed.context.sessions if typed is not None else [],
    }
    return TemplateResponse(request, "admin/ocpp_consumer/send_command.html", context)


def _send(request, charge_point: ChargePoint, form, *, action: str, payload: dict):
    """Send; a redirect to the charge point, or None with the refusal on the form."""
    outcome = command_run(
        request, charge_point_id=charge_point.charge_point_id, action=action, payload=payload
    )
    if isinstance(outcome, commands.InvalidPayload | commands.UnknownAction):
        # Nothing was recorded or sent: the form shows why.
        if isinstance(form, TypedCommandForm):
            form.add_payload_errors(str(outcome))
        else:
            form.add_error("payload", str(outcome))
        return None
    report_outcome(request, charge_point.charge_point_id, outcome)
    return redirect(reverse("admin:stations_chargepoint_change", args=[charge_point.pk]))


def command_context(charge_point: ChargePoint, action: str) -> CommandContext:
    """What the typed form offers from the charge point's records."""
    version = charge_point.ocpp_version
    status_labels = dict(ConnectorStatus.choices)
    template = _("EVSE %(id)s: %(status)s") if version == V201 else _("#%(id)s: %(status)s")
    connectors = [
        (connector_id, template % {"id": connector_id, "status": status_labels.get(status, status)})
        for connector_id, status in charge_point.connectors.filter(connector_id__gt=0)
        .order_by("connector_id")
        .values_list("connector_id", "status")
    ]
    return CommandContext(
        version=version,
        action=action,
        connectors=connectors,
        sessions=_running_sessions(charge_point),
        idtag_search_url=reverse("admin:ocpp_consumer_command_idtags"),
        initial=_reservation_id(version) if action == "ReserveNow" else {},
    )


def _running_sessions(charge_point: ChargePoint) -> list[tuple[str, str]]:
    """(transactionId as the version names it, label) of its running sessions."""
    version = charge_point.ocpp_version
    rows = (
        Transaction.objects.filter(charge_point=charge_point, status=SessionStatus.RUNNING)
        .select_related("connector")
        .order_by("-start_timestamp")[:SESSION_SUGGESTIONS]
    )
    sessions = []
    for session in rows:
        value = session.ocpp_transaction_id if version == V201 else str(session.pk)
        if not value:
            continue  # a 2.0.1 session the charger has not named cannot be addressed
        label = _("session %(id)s, connector %(connector)s, %(tag)s") % {
            "id": session.pk,
            "connector": session.connector.connector_id,
            "tag": session.id_tag or "—",
        }
        sessions.append((value, label))
    return sessions


def _reservation_id(version: str) -> dict:
    """ReserveNow's id: the next free one (reservation ids are unique across the network)."""
    latest = Reservation.objects.aggregate(latest=Max("reservation_id"))["latest"] or 0
    path = ("id",) if version == V201 else ("reservationId",)
    return {path: latest + 1}

"""Console pages for commands and the message journal, and the command buttons
that the charge point admin mixes in (ChargePointCommandsMixin)."""

from __future__ import annotations

import asyncio
import json

from asgiref.sync import async_to_sync
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from monitoring.admin_base import ReadOnlyAdminMixin
from stations.services.security import AUTHORIZATION_KEY, authorization_key_generate

from . import commands
from .forms import CommandForm, example_payloads
from .framing import V16, V201
from .models import Command, CommandStatus
from .v201.security_answers import basic_auth_password_generate, basic_auth_password_payload

RECENT_COMMANDS = 10


def command_outcome_text(command: Command) -> str:
    if command.status == CommandStatus.ANSWERED:
        return f"{command.action}: {json.dumps(command.response)}"
    detail = " ".join(filter(None, [command.error_code, command.error_description]))
    return f"{command.action}: {command.get_status_display()} {detail}".strip()


def command_run(
    request, *, charge_point_id: str, action: str, payload: dict
) -> Command | commands.CommandError:
    """Send one command: its record, or the CommandError that stopped it."""
    [(_, outcome)] = async_to_sync(send_each)([(charge_point_id, action, payload)], request.user.pk)
    return outcome


async def send_each(jobs, user_id):
    """Send (charge_point_id, action, payload) jobs concurrently; pair ids with outcomes.

    The console is for operators: `user_id` sends as one.
    """
    requester = commands.Requester(user_id=user_id)

    async def one(charge_point_id, action, payload):
        try:
            return charge_point_id, await commands.command_send(
                charge_point_id=charge_point_id,
                action=action,
                payload=payload,
                requester=requester,
                source="admin",
            )
        except commands.CommandError as exc:
            return charge_point_id, exc

    return await asyncio.gather(*(one(*job) for job in jobs))


def report_outcome(request, charge_point_id: str, outcome) -> None:
    """An admin message for a command's record, or for the error that stopped it."""
    if isinstance(outcome, Exception):
        messages.error(request, f"{charge_point_id}: {outcome}")
        return
    level = messages.SUCCESS if outcome.status == CommandStatus.ANSWERED else messages.WARNING
    messages.add_message(request, level, f"{charge_point_id}: {command_outcome_text(outcome)}")


def _bulk_action(name: str, action: str, payload: dict, description, v201=None):
    """An admin action sending one command to each selected charge point.

    `v201` is the (action, payload) doing the same on an OCPP 2.0.1 charge
    point; without it, such a charge point is told the command is not one of
    its version (by command_send, like any other refusal).
    """
    per_version = {V16: (action, payload), V201: v201 or (action, payload)}

    def run(modeladmin, request, queryset):
        jobs = [
            (charge_point_id, *per_version.get(version, per_version[V16]))
            for charge_point_id, version in queryset.values_list("charge_point_id", "ocpp_version")
        ]
        for charge_point_id, outcome in async_to_sync(send_each)(jobs, request.user.pk):
            report_outcome(request, charge_point_id, outcome)

    run.__name__ = name
    run.short_description = description
    run.allowed_permissions = ("change",)
    return run


@admin.action(description=_("Rotate the authorization key (security profile 1-2)"))
def rotate_authorization_key(modeladmin, request, queryset):
    """Send each charge point a new random AuthorizationKey (OCTT 073).

    It applies when Accepted (commands.answers: ChangeConfiguration).
    """
    jobs = [
        # 2.0.1: SecurityCtrlr.BasicAuthPassword by SetVariables (v201/security_answers.py).
        (
            charge_point_id,
            "SetVariables",
            basic_auth_password_payload(basic_auth_password_generate()),
        )
        if version == V201
        else (
            charge_point_id,
            "ChangeConfiguration",
            {"key": AUTHORIZATION_KEY, "value": authorization_key_generate()},
        )
        for charge_point_id, version in queryset.values_list("charge_point_id", "ocpp_version")
    ]
    for charge_point_id, outcome in async_to_sync(send_each)(jobs, request.user.pk):
        report_outcome(request, charge_point_id, outcome)


rotate_authorization_key.allowed_permissions = ("change",)


class ChargePointCommandsMixin:
    """Command buttons for the charge point admin: bulk actions and a form page."""

    change_form_template = "admin/stations/chargepoint/change_form.html"
    actions = [
        # 2.0.1 Reset: OnIdle waits for running sessions to end, like a 1.6 soft reset.
        _bulk_action(
            "send_reset_soft",
            "Reset",
            {"type": "Soft"},
            _("Reset (soft)"),
            v201=("Reset", {"type": "OnIdle"}),
        ),
        _bulk_action(
            "send_reset_hard",
            "Reset",
            {"type": "Hard"},
            _("Reset (hard)"),
            v201=("Reset", {"type": "Immediate"}),
        ),
        _bulk_action("send_get_configuration", "GetConfiguration", {}, _("Get configuration")),
        _bulk_action("send_clear_cache", "ClearCache", {}, _("Clear authorization cache")),
        _bulk_action(
            "send_trigger_status",
            "TriggerMessage",
            {"requestedMessage": "StatusNotification"},
            _("Trigger status"),
        ),
        _bulk_action(
            "send_trigger_boot",
            "TriggerMessage",
            {"requestedMessage": "BootNotification"},
            _("Trigger boot"),
        ),
        _bulk_action(
            "send_make_operative",
            "ChangeAvailability",
            {"connectorId": 0, "type": "Operative"},
            _("Make available (operative)"),
            v201=("ChangeAvailability", {"operationalStatus": "Operative"}),
        ),
        _bulk_action(
            "send_make_inoperative",
            "ChangeAvailability",
            {"connectorId": 0, "type": "Inoperative"},
            _("Make unavailable (inoperative)"),
            v201=("ChangeAvailability", {"operationalStatus": "Inoperative"}),
        ),
        rotate_authorization_key,
    ]

    def get_urls(self):
        urls = [
            path(
                "<path:object_id>/command/",
                self.admin_site.admin_view(self.send_command_view),
                name="stations_chargepoint_command",
            )
        ]
        return urls + super().get_urls()

    def send_command_view(self, request, object_id):
        charge_point = self.get_object(request, object_id)
        if charge_point is None:
            raise Http404
        if not self.has_change_permission(request, charge_point):
            raise PermissionDenied
        # The charge point's version decides the actions offered and their examples.
        version = charge_point.ocpp_version
        examples = example_payloads(version)
        action = request.GET.get("action", "Reset")
        initial = {"action": action, "payload": examples.get(action, {})}
        form = CommandForm(request.POST or None, initial=initial, version=version)
        if request.method == "POST" and form.is_valid():
            outcome = command_run(
                request,
                charge_point_id=charge_point.charge_point_id,
                action=form.cleaned_data["action"],
                payload=form.cleaned_data["payload"],
            )
            if isinstance(outcome, commands.InvalidPayload | commands.UnknownAction):
                form.add_error("payload", str(outcome))  # nothing was recorded or sent
            else:
                report_outcome(request, charge_point.charge_point_id, outcome)
                return redirect(
                    reverse("admin:stations_chargepoint_change", args=[charge_point.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": charge_point,
            "title": _("Send a command to %(id)s") % {"id": charge_point.charge_point_id},
            "form": form,
            "examples": examples,
            "ocpp_version": version,
        }
        return TemplateResponse(request, "admin/ocpp_consumer/send_command.html", context)

    @admin.display(description=_("recent commands"))
    def recent_commands(self, obj):
        rows = obj.commands.select_related("requested_by")[:RECENT_COMMANDS]
        if not rows:
            return "—"
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            (
                (c.created_at.strftime("%Y-%m-%d %H:%M:%S"), c.action, c.get_status_display(),
                 json.dumps(c.response) if c.response is not None else c.error_description)
                for c in rows
            ),
        )  # fmt: skip
        link = (
            reverse("admin:ocpp_consumer_command_changelist") + f"?charge_point__id__exact={obj.pk}"
        )
        head = format_html_join(
            "", "<th>{}</th>", ((t,) for t in (_("when"), _("action"), _("status"), _("answer")))
        )
        return format_html(
            '<table><tr>{}</tr>{}</table><a href="{}">{}</a>', head, body, link, _("all commands")
        )

    @admin.display(description=_("known configuration"))
    def known_configuration(self, obj):
        keys = obj.configuration.all()
        if not keys:
            return _("unknown: run “Get configuration”")
        return format_html(
            "<table>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                ((k.key, k.value if k.value is not None else "—",
                  _("read-only") if k.readonly else "") for k in keys),
            ),
        )  # fmt: skip


class HistoryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What was sent and received: shown, never edited."""


@admin.register(Command)
class CommandAdmin(HistoryAdmin):
    list_display = ("created_at", "charge_point", "action", "status", "source", "requested_by")
    list_filter = ("status", "action", "source")
    list_select_related = ("charge_point", "requested_by")
    search_fields = ("charge_point__charge_point_id", "action", "unique_id")
    date_hierarchy = "created_at"


# The journal's pages live in their own module; importing it registers them.
from . import admin_journal  # noqa: E402, F401

"""Console pages for commands, and the command buttons that the charge point admin
mixes in (ChargePointCommandsMixin).

- admin_command_page.py: the "Send command" page (typed form, expert JSON);
- admin_quick.py: quick actions (one POST per button) and the id tag search;
- admin_outcomes.py: the verdict of a command, its badge and filter;
- admin_sending.py: sending as an operator and the coloured message
  (`command_run`, `send_each`, `report_outcome`, used by other apps' admins).
"""

from __future__ import annotations

import json

from asgiref.sync import async_to_sync
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import BLANK_CHOICE_DASH, Q
from django.http import Http404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from monitoring.admin_base import ReadOnlyAdminMixin
from monitoring.admin_paginator import LargeTableAdminMixin, choices_filter, related_key_filter
from stations.models import ChargePoint
from stations.services.security import AUTHORIZATION_KEY, authorization_key_generate

from .admin_command_page import command_page
from .admin_journal import ActionFilter
from .admin_outcomes import OutcomeFilter, outcome_badge
from .admin_quick import idtag_search_view, quick_action_view
from .admin_sending import command_outcome_text, command_run, report_outcome, send_each
from .console_forms import GROUP_LABELS
from .console_forms.groups import AVAILABILITY, CONFIGURATION, DIAGNOSTICS, OTHER, SECURITY
from .framing import V16, V201
from .models import COMMAND_SOURCES, Command
from .v201.security_answers import basic_auth_password_generate, basic_auth_password_payload

__all__ = [
    "ChargePointCommandsMixin",
    "CommandAdmin",
    "HistoryAdmin",
    "command_outcome_text",
    "command_run",
    "report_outcome",
    "send_each",
]

RECENT_COMMANDS = 10
CONSOLE_CSS = "ocpp_consumer/console_commands.css"


def _bulk_action(name: str, action: str, payload: dict, description, group: str, v201=None):
    """An admin action sending one command to each selected charge point.

    `v201` is the (action, payload) doing the same on an OCPP 2.0.1 charge
    point; without it, such a charge point is told the command is not one of
    its version (by command_send, like any other refusal). `group` places it
    in the action menu (security apart from resets).
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
    run.console_group = group
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
rotate_authorization_key.console_group = SECURITY

REGISTRATION_GROUP = "registration"
# Other apps' actions on charge points, by name: where the menu lists them.
ACTION_GROUP_BY_NAME = {
    "accept_selected": REGISTRATION_GROUP,
    "reject_selected": REGISTRATION_GROUP,
    "update_firmware_latest": DIAGNOSTICS,
    "request_diagnostics_upload": DIAGNOSTICS,
}
ACTION_GROUP_LABELS = {REGISTRATION_GROUP: _("Registration"), **GROUP_LABELS}


class ChargePointCommandsMixin:
    """Command buttons for the charge point admin: bulk actions and a form page."""

    # Extends the charge point's own template (registration buttons) with the
    # forms the connector rows' quick buttons submit.
    change_form_template = "admin/ocpp_consumer/chargepoint_change_form.html"
    actions = [
        # 2.0.1 Reset: OnIdle waits for running sessions to end, like a 1.6 soft reset.
        _bulk_action(
            "send_reset_soft",
            "Reset",
            {"type": "Soft"},
            _("Reset (soft)"),
            AVAILABILITY,
            v201=("Reset", {"type": "OnIdle"}),
        ),
        _bulk_action(
            "send_reset_hard",
            "Reset",
            {"type": "Hard"},
            _("Reset (hard)"),
            AVAILABILITY,
            v201=("Reset", {"type": "Immediate"}),
        ),
        _bulk_action(
            "send_make_operative",
            "ChangeAvailability",
            {"connectorId": 0, "type": "Operative"},
            _("Make available (operative)"),
            AVAILABILITY,
            v201=("ChangeAvailability", {"operationalStatus": "Operative"}),
        ),
        _bulk_action(
            "send_make_inoperative",
            "ChangeAvailability",
            {"connectorId": 0, "type": "Inoperative"},
            _("Make unavailable (inoperative)"),
            AVAILABILITY,
            v201=("ChangeAvailability", {"operationalStatus": "Inoperative"}),
        ),
        _bulk_action(
            "send_trigger_status",
            "TriggerMessage",
            {"requestedMessage": "StatusNotification"},
            _("Trigger status"),
            AVAILABILITY,
        ),
        _bulk_action(
            "send_trigger_boot",
            "TriggerMessage",
            {"requestedMessage": "BootNotification"},
            _("Trigger boot"),
            AVAILABILITY,
        ),
        _bulk_action(
            "send_get_configuration", "GetConfiguration", {}, _("Get configuration"), CONFIGURATION
        ),
        _bulk_action(
            "send_clear_cache", "ClearCache", {}, _("Clear authorization cache"), CONFIGURATION
        ),
        rotate_authorization_key,
    ]

    def get_action_choices(self, request, default_choices=BLANK_CHOICE_DASH):
        """The action menu in groups (<optgroup>): security apart from resets."""
        choices = super().get_action_choices(request, default_choices)
        blank = [choice for choice in choices if not choice[0]]
        grouped: dict[str, list] = {group: [] for group in ACTION_GROUP_LABELS}
        actions = self.get_actions(request)
        for name, description in choices:
            if not name:
                continue
            func = actions[name][0] if name in actions else None
            group = ACTION_GROUP_BY_NAME.get(name) or getattr(func, "console_group", OTHER)
            grouped.setdefault(group, []).append((name, description))
        return blank + [
            (ACTION_GROUP_LABELS.get(group, group), members)
            for group, members in grouped.items()
            if members
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
        return command_page(self, request, charge_point)

    @admin.display(description=_("recent commands"))
    def recent_commands(self, obj):
        rows = obj.commands.select_related("requested_by")[:RECENT_COMMANDS]
        if not rows:
            return "—"
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            (
                (c.created_at.strftime("%Y-%m-%d %H:%M:%S"), c.action, outcome_badge(c),
                 json.dumps(c.response) if c.response is not None else c.error_description)
                for c in rows
            ),
        )  # fmt: skip
        link = (
            reverse("admin:ocpp_consumer_command_changelist") + f"?charge_point__id__exact={obj.pk}"
        )
        head = format_html_join(
            "", "<th>{}</th>", ((t,) for t in (_("when"), _("action"), _("outcome"), _("answer")))
        )
        return format_html(
            '<table class="recent-commands"><tr>{}</tr>{}</table><a href="{}">{}</a>',
            head,
            body,
            link,
            _("all commands"),
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
class CommandAdmin(LargeTableAdminMixin, HistoryAdmin):
    list_display = (
        "created_at",
        "charge_point",
        "action",
        "outcome_column",
        "source",
        "requested_by",
    )
    # Fixed choices and the one charge point of the page's link: no DISTINCT over the history.
    list_filter = (
        OutcomeFilter,
        ActionFilter,
        choices_filter("source", COMMAND_SOURCES, title=_("source")),
        related_key_filter("charge_point", title=_("charge point")),
    )
    list_select_related = ("charge_point", "requested_by")
    # Exact ids, served by indexes (a substring search would read every command).
    search_fields = ("=charge_point__charge_point_id", "=unique_id")
    search_help_text = _("A charge point id, or the id of a message.")
    date_hierarchy = "created_at"
    # Sorting on another column would sort the whole history.
    sortable_by = ("created_at",)

    def get_search_results(self, request, queryset, search_term):
        # The charge point first (one indexed row), then its commands by their
        # index: a join with the condition on the other side read them all.
        term = search_term.strip()
        if not term:
            return queryset, False
        matches = Q(unique_id=term)
        charge_point = ChargePoint.objects.filter(charge_point_id__iexact=term).first()
        if charge_point is not None:
            matches |= Q(charge_point_id=charge_point.pk)
        return queryset.filter(matches), False

    readonly_fields = ("outcome_column",)

    class Media:
        css = {"all": (CONSOLE_CSS,)}

    @admin.display(description=_("outcome"), ordering="outcome")
    def outcome_column(self, obj):
        return outcome_badge(obj)

    def get_urls(self):
        # Before the model's own URLs: "<path:object_id>/" would take these.
        return [
            path(
                "quick/",
                self.admin_site.admin_view(quick_action_view),
                name="ocpp_consumer_command_quick",
            ),
            path(
                "id-tags/",
                self.admin_site.admin_view(idtag_search_view),
                name="ocpp_consumer_command_idtags",
            ),
            *super().get_urls(),
        ]

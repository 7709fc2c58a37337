"""Console pages of monitoring, device events, display messages and customer information.

Imported by `devicemodel.admin`. Setting a display message sends
SetDisplayMessage through the command path; what is stored follows the
charge point's answer (ocpp_consumer.v201.display_answers).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from monitoring.admin_base import ReadOnlyModelAdmin
from ocpp_consumer import commands
from ocpp_consumer.admin import command_run, report_outcome
from stations.choices import OcppVersion
from stations.models import ChargePoint

from .choices import MessageFormat, MessagePriority, MessageState
from .models import (
    CustomerInformation,
    DeviceEvent,
    DisplayMessage,
    MonitoringReport,
    VariableMonitor,
)
from .services import device_events_close

# SetDisplayMessageRequest: MessageContentType.content has at most 512 characters.
MESSAGE_CONTENT_MAX_LENGTH = 512
_CHARGE_POINT_FILTER = ("charge_point", admin.RelatedOnlyFieldListFilter)


@admin.register(VariableMonitor)
class VariableMonitorAdmin(ReadOnlyModelAdmin):
    list_display = (
        "charge_point",
        "monitor_id",
        "variable",
        "type",
        "value",
        "severity",
        "transaction",
        "set_status",
        "updated_at",
    )
    list_filter = ("type", "severity", "set_status", _CHARGE_POINT_FILTER)
    search_fields = ("charge_point__charge_point_id", "variable__component", "variable__name")
    list_select_related = ("charge_point", "variable")


@admin.register(MonitoringReport)
class MonitoringReportAdmin(ReadOnlyModelAdmin):
    list_display = (
        "charge_point",
        "request_id",
        "status",
        "parts_received",
        "monitors_reported",
        "created_at",
        "completed_at",
    )
    list_filter = ("status", _CHARGE_POINT_FILTER)
    search_fields = ("charge_point__charge_point_id",)
    list_select_related = ("charge_point",)


class OpenProblemFilter(admin.SimpleListFilter):
    """The problems that keep the device alarm raised (the dashboard links here)."""

    title = _("open problem")
    parameter_name = "open_problem"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(is_problem=True, cleared_at__isnull=True)
        return queryset


@admin.register(DeviceEvent)
class DeviceEventAdmin(ReadOnlyModelAdmin):
    """What stations reported with NotifyEvent; problems stay open until cleared."""

    list_display = (
        "charge_point",
        "timestamp",
        "event_id",
        "variable",
        "trigger",
        "actual_value",
        "severity",
        "notification_type",
        "cleared",
        "is_problem",
        "cleared_at",
    )
    list_filter = (
        OpenProblemFilter,
        "trigger",
        "notification_type",
        "is_problem",
        _CHARGE_POINT_FILTER,
    )
    search_fields = ("charge_point__charge_point_id", "variable__component", "variable__name")
    list_select_related = ("charge_point", "variable")
    date_hierarchy = "timestamp"
    actions = ["close_problems"]

    @admin.action(description=_("Close the selected problems (acknowledged)"))
    def close_problems(self, request, queryset):
        if not request.user.has_perm("stations.change_chargepoint"):
            raise PermissionDenied
        closed = device_events_close(event_pks=queryset.values_list("pk", flat=True))
        messages.info(request, _("%(n)d problems closed.") % {"n": closed})


class DisplayMessageForm(forms.Form):
    charge_point = forms.ModelChoiceField(
        queryset=ChargePoint.objects.filter(ocpp_version=OcppVersion.V201),
        label=_("charge point"),
        to_field_name="charge_point_id",
    )
    message_id = forms.IntegerField(label=_("message id"), min_value=0)
    priority = forms.ChoiceField(
        label=_("priority"), choices=MessagePriority.choices, initial=MessagePriority.NORMAL_CYCLE
    )
    state = forms.ChoiceField(
        label=_("shown when"), choices=[("", _("any state")), *MessageState.choices], required=False
    )
    format = forms.ChoiceField(
        label=_("format"), choices=MessageFormat.choices, initial=MessageFormat.UTF8
    )
    language = forms.CharField(label=_("language"), max_length=8, required=False)
    content = forms.CharField(
        label=_("content"), max_length=MESSAGE_CONTENT_MAX_LENGTH, widget=forms.Textarea
    )

    def payload(self) -> dict:
        """The SetDisplayMessageRequest."""
        data = self.cleaned_data
        content = {"format": data["format"], "content": data["content"]}
        if data["language"]:
            content["language"] = data["language"]
        message = {"id": data["message_id"], "priority": data["priority"], "message": content}
        if data["state"]:
            message["state"] = data["state"]
        return {"message": message}


@admin.register(DisplayMessage)
class DisplayMessageAdmin(ReadOnlyModelAdmin):
    change_list_template = "admin/devicemodel/displaymessage/change_list.html"
    list_display = (
        "charge_point",
        "message_id",
        "priority",
        "state",
        "content",
        "set_status",
        "reported_at",
        "updated_at",
    )
    list_filter = ("priority", "set_status", _CHARGE_POINT_FILTER)
    search_fields = ("charge_point__charge_point_id", "content")
    list_select_related = ("charge_point",)
    actions = ["clear_on_station"]

    def get_urls(self):
        return [
            path(
                "set/",
                self.admin_site.admin_view(self.set_view),
                name="devicemodel_displaymessage_set",
            ),
            *super().get_urls(),
        ]

    def set_view(self, request):
        """Send SetDisplayMessage to a 2.0.1 charge point."""
        if not request.user.has_perm("stations.change_chargepoint"):
            raise PermissionDenied
        form = DisplayMessageForm(request.POST or None, initial=request.GET or None)
        if request.method == "POST" and form.is_valid():
            charge_point_id = form.cleaned_data["charge_point"].charge_point_id
            outcome = command_run(
                request,
                charge_point_id=charge_point_id,
                action="SetDisplayMessage",
                payload=form.payload(),
            )
            report_outcome(request, charge_point_id, outcome)
            return redirect(reverse("admin:devicemodel_displaymessage_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Set a display message"),
            "form": form,
        }
        return TemplateResponse(request, "admin/devicemodel/set_display_message.html", context)

    @admin.action(description=_("Clear the selected messages from their charge points"))
    def clear_on_station(self, request, queryset):
        if not request.user.has_perm("stations.change_chargepoint"):
            raise PermissionDenied
        for message in queryset.select_related("charge_point"):
            charge_point_id = message.charge_point.charge_point_id
            outcome = command_run(
                request,
                charge_point_id=charge_point_id,
                action="ClearDisplayMessage",
                payload={"id": message.message_id},
            )
            report_outcome(request, charge_point_id, outcome)
            if isinstance(outcome, commands.CommandError):
                break


@admin.register(CustomerInformation)
class CustomerInformationAdmin(ReadOnlyModelAdmin):
    """Answers to CustomerInformation: the station's data on a customer, in order."""

    list_display = (
        "charge_point",
        "request_id",
        "customer",
        "report",
        "clear",
        "status",
        "complete",
        "created_at",
    )
    list_filter = ("status", "complete", _CHARGE_POINT_FILTER)
    search_fields = ("charge_point__charge_point_id", "customer")
    list_select_related = ("charge_point",)
    readonly_fields = ("assembled_data",)

    @admin.display(description=_("data"))
    def assembled_data(self, obj):
        return format_html("<pre>{}</pre>", obj.data)

"""Console pages of the device model: browse it per charge point, set a value, ask for a report.

Setting a value sends SetVariables through the command path (the one way
to reach a charge point); the stored value changes when the charger
accepts it (ocpp_consumer.v201.provisioning_answers).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from monitoring.admin_base import ReadOnlyModelAdmin
from ocpp_consumer import commands
from ocpp_consumer.admin import command_run, report_outcome
from ocpp_consumer.v201.device_model import set_variables_payload
from stations.choices import OcppVersion
from stations.models import ChargePoint

from .choices import Mutability, ReportBase
from .models import (
    BootRecord,
    DeviceReport,
    DeviceVariable,
    NetworkProfile,
    ResetRecord,
    VariableAttribute,
)
from .services import VariableKey, report_reservation_release, report_reserve

# Refusals before anything reached the charge point: its request id is free again.
_NOT_SENT = (
    commands.ChargePointNotFound,
    commands.ChargePointOffline,
    commands.CommandForbidden,
    commands.CommandsUnavailable,
    commands.InvalidPayload,
    commands.UnknownAction,
)
# SetVariablesRequest: attributeValue has at most 1000 characters.
SET_VALUE_MAX_LENGTH = 1000


def variable_key_of(variable: DeviceVariable) -> VariableKey:
    return VariableKey(
        component=variable.component,
        component_instance=variable.component_instance,
        evse_id=variable.evse_id,
        connector_id=variable.connector_id,
        variable=variable.name,
        variable_instance=variable.instance,
    )


class AttributeValueForm(forms.ModelForm):
    """The new value; the model's clean judges it by the variable's characteristics.

    Never saved: the value is sent, and the charger's answer changes the row.
    """

    value = forms.CharField(
        label=_("new value"),
        max_length=SET_VALUE_MAX_LENGTH,
        required=True,
        strip=False,
        widget=forms.TextInput(attrs={"size": 60}),
    )

    class Meta:
        model = VariableAttribute
        fields = ("value",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.mutability == Mutability.WRITE_ONLY:
            self.initial["value"] = ""  # never offer the mask as the value to send


@admin.register(VariableAttribute)
class VariableAttributeAdmin(ReadOnlyModelAdmin):
    """The device model, one row per attribute, as the charge point reported it.

    Rows are never edited here: a writable attribute's page links to a form
    that sends SetVariables (outside the admin's atomic change view, which
    would hold the Command row uncommitted while the charger answers).
    """

    list_display = (
        "charge_point",
        "component_name",
        "variable_name",
        "type",
        "shown_value",
        "mutability",
        "unit",
        "data_type",
        "set_status",
        "reboot_required",
        "updated_at",
    )
    list_filter = (
        ("variable__charge_point", admin.RelatedOnlyFieldListFilter),
        "type",
        "mutability",
        "variable__data_type",
        "reboot_required",
    )
    search_fields = (
        "variable__component",
        "variable__name",
        "variable__component_instance",
        "variable__instance",
        "variable__charge_point__charge_point_id",
    )
    list_select_related = ("variable__charge_point",)
    fields = readonly_fields = (
        "charge_point",
        "component_name",
        "variable_name",
        "type",
        "shown_value",
        "set_value_link",
        "mutability",
        "persistent",
        "constant",
        "unit",
        "data_type",
        "limits",
        "values_list",
        "set_status",
        "set_at",
        "reboot_required",
        "updated_at",
    )

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields

    def get_urls(self):
        return [
            path(
                "<path:object_id>/set/",
                self.admin_site.admin_view(self.set_value_view),
                name="devicemodel_variableattribute_set",
            ),
            *super().get_urls(),
        ]

    def may_set(self, request, obj: VariableAttribute) -> bool:
        """Setting sends a command: it needs the right to change charge points."""
        return obj.is_writable and request.user.has_perm("stations.change_chargepoint")

    def set_value_view(self, request, object_id):
        attribute = self.get_object(request, object_id)
        if attribute is None:
            raise Http404
        if not self.may_set(request, attribute):
            raise PermissionDenied
        form = AttributeValueForm(request.POST or None, instance=attribute)
        if request.method == "POST" and form.is_valid():
            charge_point_id = attribute.variable.charge_point.charge_point_id
            outcome = command_run(
                request,
                charge_point_id=charge_point_id,
                action="SetVariables",
                payload=set_variables_payload(
                    key=variable_key_of(attribute.variable),
                    value=form.cleaned_data["value"],
                    attribute_type=attribute.type,
                ),
            )
            if isinstance(outcome, commands.InvalidPayload | commands.UnknownAction):
                form.add_error("value", str(outcome))  # nothing was recorded or sent
            else:
                report_outcome(request, charge_point_id, outcome)
                return redirect(
                    reverse("admin:devicemodel_variableattribute_change", args=[attribute.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": attribute,
            "variable": attribute.variable,
            "limits": self.limits(attribute),
            "title": _("Set %(attribute)s") % {"attribute": attribute},
            "form": form,
        }
        return TemplateResponse(request, "admin/devicemodel/set_value.html", context)

    @admin.display(description=_("set"))
    def set_value_link(self, obj):
        if obj.pk is None or not obj.is_writable:
            return _("read-only")
        url = reverse("admin:devicemodel_variableattribute_set", args=[obj.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, _("Set a new value"))

    @admin.display(description=_("charge point"), ordering="variable__charge_point")
    def charge_point(self, obj):
        return obj.variable.charge_point

    @admin.display(description=_("component"), ordering="variable__component")
    def component_name(self, obj):
        return obj.variable.path.rsplit(".", 1)[0]

    @admin.display(description=_("variable"), ordering="variable__name")
    def variable_name(self, obj):
        variable = obj.variable
        return variable.name + (f"[{variable.instance}]" if variable.instance else "")

    @admin.display(description=_("value"))
    def shown_value(self, obj):
        return "—" if obj.value is None else obj.value

    @admin.display(description=_("unit"))
    def unit(self, obj):
        return obj.variable.unit

    @admin.display(description=_("data type"), ordering="variable__data_type")
    def data_type(self, obj):
        return obj.variable.get_data_type_display() or "—"

    @admin.display(description=_("limits"))
    def limits(self, obj):
        low, high = obj.variable.min_limit, obj.variable.max_limit
        if low is None and high is None:
            return "—"
        return f"{'' if low is None else f'{low:g}'} … {'' if high is None else f'{high:g}'}"

    @admin.display(description=_("allowed values"))
    def values_list(self, obj):
        return obj.variable.values_list or "—"


class ReportRequestForm(forms.Form):
    charge_point = forms.ModelChoiceField(
        label=_("charge point"),
        queryset=ChargePoint.objects.filter(ocpp_version=OcppVersion.V201),
        help_text=_("OCPP 2.0.1 charge points."),
    )
    report_base = forms.ChoiceField(
        label=_("report"),
        choices=[(c.value, c.label) for c in ReportBase if c != ReportBase.CUSTOM],
        initial=ReportBase.FULL_INVENTORY,
    )


@admin.register(DeviceReport)
class DeviceReportAdmin(ReadOnlyModelAdmin):
    """Reports asked of charge points and how far their parts came; a page to ask for one."""

    change_list_template = "admin/devicemodel/devicereport/change_list.html"
    list_display = (
        "charge_point",
        "request_id",
        "report_base",
        "status",
        "parts_received",
        "missing_parts",
        "variables_reported",
        "created_at",
        "completed_at",
    )
    list_filter = ("status", "report_base", ("charge_point", admin.RelatedOnlyFieldListFilter))
    search_fields = ("charge_point__charge_point_id",)
    list_select_related = ("charge_point",)

    def get_urls(self):
        return [
            path(
                "request/",
                self.admin_site.admin_view(self.request_view),
                name="devicemodel_devicereport_request",
            ),
            *super().get_urls(),
        ]

    def request_view(self, request):
        """Send GetBaseReport with a request id chosen here (unique per charge point)."""
        if not request.user.has_perm("stations.change_chargepoint"):
            raise PermissionDenied
        form = ReportRequestForm(request.POST or None, initial=request.GET or None)
        if request.method == "POST" and form.is_valid():
            charge_point = form.cleaned_data["charge_point"]
            report_base = form.cleaned_data["report_base"]
            report = report_reserve(charge_point_pk=charge_point.pk, report_base=report_base)
            outcome = command_run(
                request,
                charge_point_id=charge_point.charge_point_id,
                action="GetBaseReport",
                payload={"requestId": report.request_id, "reportBase": report_base},
            )
            report_outcome(request, charge_point.charge_point_id, outcome)
            if isinstance(outcome, _NOT_SENT):
                report_reservation_release(report_pk=report.pk)
            if not isinstance(outcome, commands.CommandError):
                messages.info(request, _("Report #%(id)s requested.") % {"id": report.request_id})
            return redirect(reverse("admin:devicemodel_devicereport_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Ask a charge point for a report"),
            "form": form,
        }
        return TemplateResponse(request, "admin/devicemodel/request_report.html", context)


@admin.register(BootRecord)
class BootRecordAdmin(ReadOnlyModelAdmin):
    list_display = (
        "charge_point",
        "booted_at",
        "reason",
        "registration_status",
        "firmware_version",
    )
    list_filter = (
        "reason",
        "registration_status",
        ("charge_point", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("charge_point__charge_point_id",)
    list_select_related = ("charge_point",)
    date_hierarchy = "booted_at"


@admin.register(NetworkProfile)
class NetworkProfileAdmin(ReadOnlyModelAdmin):
    list_display = ("charge_point", "configuration_slot", "last_status", "updated_at")
    list_filter = (("charge_point", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("charge_point__charge_point_id",)


@admin.register(ResetRecord)
class ResetRecordAdmin(ReadOnlyModelAdmin):
    list_display = ("charge_point", "answered_at", "reset_type", "evse_id", "status")
    list_filter = ("reset_type", "status", ("charge_point", admin.RelatedOnlyFieldListFilter))
    search_fields = ("charge_point__charge_point_id",)

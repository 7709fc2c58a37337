"""Console pages for sessions, meter values and what charge points send."""

from decimal import Decimal

from django.contrib import admin
from django.core.exceptions import ObjectDoesNotExist
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from monitoring.admin_base import ReadOnlyInline, ReadOnlyModelAdmin, all_field_names
from monitoring.charts import transaction_chart_svg

from ..models import (
    DataTransferRecord,
    MeterValue,
    OrphanStopTransaction,
    Transaction,
)
from .base import METER_VALUE_INLINE_LIMIT, _changelist_link

# --- Transactions and meter values ----------------------------------------


class TransactionStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (("open", _("open")), ("closed", _("closed")))

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(stop_timestamp__isnull=True)
        if self.value() == "closed":
            return queryset.filter(stop_timestamp__isnull=False)
        return queryset


class LatestMeterValuesFormSet(BaseInlineFormSet):
    """Keep a long session's page small: show only its latest meter values."""

    def get_queryset(self):
        return super().get_queryset()[:METER_VALUE_INLINE_LIMIT]


class MeterValueInline(ReadOnlyInline, admin.TabularInline):
    model = MeterValue
    formset = LatestMeterValuesFormSet
    verbose_name_plural = _("latest meter values")
    fields = (
        "timestamp",
        "measurand",
        "phase",
        "value",
        "unit",
        "context",
        "location",
        "format",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-timestamp", "-id")


@admin.register(Transaction)
class TransactionAdmin(admin.ModelAdmin):
    inlines = (MeterValueInline,)
    list_display = (
        "id",
        "charge_point",
        "connector_number",
        "id_tag",
        "start_timestamp",
        "stop_timestamp",
        "energy_kwh",
        "stop_reason",
        "is_open",
        "invoice_link",
    )
    list_filter = (TransactionStateFilter, "stop_reason", "charge_point")
    list_select_related = ("charge_point", "connector", "invoice")
    search_fields = ("id__exact", "id_tag", "charge_point__charge_point_id")
    date_hierarchy = "start_timestamp"
    readonly_fields = ("energy_kwh", "is_open", "invoice_link", "all_meter_values", "meter_chart")

    def get_readonly_fields(self, request, obj=None):
        return all_field_names(self.model) + self.readonly_fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("connector id"), ordering="connector__connector_id")
    def connector_number(self, obj):
        return obj.connector.connector_id

    @admin.display(description=_("energy (kWh)"), ordering="energy_wh")
    def energy_kwh(self, obj):
        if obj.energy_wh is None:
            return None
        return f"{Decimal(obj.energy_wh) / 1000:.3f}"

    @admin.display(description=_("open"), boolean=True)
    def is_open(self, obj):
        return obj.is_open

    @admin.display(description=_("invoice"))
    def invoice_link(self, obj):
        try:
            invoice = obj.invoice
        except ObjectDoesNotExist:
            return None
        url = reverse("admin:billing_invoice_change", args=[invoice.pk])
        return format_html('<a href="{}">{}</a>', url, invoice.number)

    @admin.display(description=_("energy and power"))
    def meter_chart(self, obj):
        return transaction_chart_svg(transaction=obj)

    @admin.display(description=_("all meter values"))
    def all_meter_values(self, obj):
        return _changelist_link(
            "stations_metervalue", f"transaction__id__exact={obj.pk}", _("Show")
        )


@admin.register(MeterValue)
class MeterValueAdmin(ReadOnlyModelAdmin):
    list_display = (
        "timestamp",
        "charge_point",
        "connector_number",
        "transaction",
        "measurand",
        "phase",
        "value",
        "unit",
        "context",
        "location",
    )
    list_filter = ("measurand", "unit", "context", "location", "phase")
    list_select_related = ("charge_point", "connector", "transaction")
    search_fields = ("charge_point__charge_point_id", "transaction__id__exact", "measurand")
    date_hierarchy = "timestamp"

    @admin.display(description=_("connector id"), ordering="connector__connector_id")
    def connector_number(self, obj):
        return obj.connector.connector_id


@admin.register(OrphanStopTransaction)
class OrphanStopTransactionAdmin(ReadOnlyModelAdmin):
    list_display = (
        "received_at",
        "charge_point",
        "transaction_id",
        "id_tag",
        "meter_stop",
        "timestamp",
        "reason",
    )
    list_filter = ("reason",)
    list_select_related = ("charge_point",)
    search_fields = ("charge_point__charge_point_id", "transaction_id__exact", "id_tag")
    date_hierarchy = "received_at"


@admin.register(DataTransferRecord)
class DataTransferRecordAdmin(ReadOnlyModelAdmin):
    list_display = (
        "received_at",
        "charge_point",
        "vendor_id",
        "message_id",
        "response_status",
    )
    list_filter = ("response_status", "vendor_id")
    list_select_related = ("charge_point",)
    search_fields = ("charge_point__charge_point_id", "vendor_id", "message_id", "data")
    date_hierarchy = "received_at"

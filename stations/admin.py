"""The operator console for sites, charge points and what they report.

What a charge point reports (boot data, status, sessions, meter values) is
shown read-only: the charge point is the source of truth, not the operator.
"""

from decimal import Decimal

from django import forms
from django.contrib import admin
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from monitoring import console
from monitoring.charts import transaction_chart_svg
from ocpp_consumer.admin import ChargePointCommandsMixin

from .models import (
    ChargePoint,
    ChargingProfile,
    ChargingSchedulePeriod,
    CompatibilityProfile,
    CompositeSchedule,
    Connector,
    ConnectorStatusLog,
    DataTransferRecord,
    MeterValue,
    OrphanStopTransaction,
    Reservation,
    SecurityEvent,
    Station,
    Transaction,
)
from .models.charge_points import REPORTED_BY_CHARGE_POINT

PASSWORD_MIN_LENGTH = 16
PASSWORD_MAX_LENGTH = 40
METER_VALUE_INLINE_LIMIT = 50


def _all_fields(model) -> tuple[str, ...]:
    return tuple(field.name for field in model._meta.concrete_fields)


def _changelist_link(model_label: str, query: str, text) -> str:
    url = reverse(f"admin:{model_label}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, query, text)


class HistoryAdmin(admin.ModelAdmin):
    """Show what a charge point reported; nobody adds, edits or deletes it."""

    def get_readonly_fields(self, request, obj=None):
        return _all_fields(self.model) + tuple(self.readonly_fields)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline:
    """Mix into an inline to list related rows without editing them."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Stations and charge points -------------------------------------------


@admin.register(Station)
class StationAdmin(admin.ModelAdmin):
    list_display = ("name", "city", "postal_code", "country", "time_zone", "charge_point_count")
    list_filter = ("country", "time_zone")
    search_fields = ("name", "address", "city", "postal_code")
    date_hierarchy = "created_at"
    readonly_fields = ("created_at",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_charge_point_count=Count("charge_points"))

    @admin.display(description=_("charge points"), ordering="_charge_point_count")
    def charge_point_count(self, obj):
        return obj._charge_point_count


class ChargePointForm(forms.ModelForm):
    """Set or clear the charge point's password; the stored hash is never shown."""

    new_password = forms.CharField(
        label=_("new password"),
        required=False,
        strip=False,
        min_length=PASSWORD_MIN_LENGTH,
        max_length=PASSWORD_MAX_LENGTH,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False),
        help_text=_(
            "HTTP Basic password of security profile 1, 16 to 40 characters. "
            "Leave empty to keep the current one."
        ),
    )
    clear_password = forms.BooleanField(
        label=_("clear password"),
        required=False,
        help_text=_("Remove the password: the charge point then connects without one."),
    )

    class Meta:
        model = ChargePoint
        fields = ("charge_point_id", "station", "registration_status", "heartbeat_interval")

    def clean(self):
        cleaned_data = super().clean()
        if cleaned_data.get("new_password") and cleaned_data.get("clear_password"):
            raise forms.ValidationError(
                _("Either set a new password or clear it, not both."), code="password_conflict"
            )
        return cleaned_data

    def save(self, commit=True):
        charge_point = super().save(commit=False)
        if self.cleaned_data.get("clear_password"):
            charge_point.set_password(None)
        elif self.cleaned_data.get("new_password"):
            charge_point.set_password(self.cleaned_data["new_password"])
        if commit:
            charge_point.save()
            self._save_m2m()
        return charge_point


class ConnectorInline(ReadOnlyInline, admin.TabularInline):
    model = Connector
    fields = (
        "connector_id",
        "status",
        "error_code",
        "info",
        "vendor_error_code",
        "status_timestamp",
        "updated_at",
    )
    readonly_fields = fields


CONNECTION_STATE = (
    "is_online",
    "connection_channel",
    "socket_node",
    "last_boot_at",
    "last_heartbeat",
    "last_seen",
    "connected_at",
    "created_at",
    "updated_at",
)


@admin.register(CompatibilityProfile)
class CompatibilityProfileAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "vendor",
        "model",
        "numbers_as_strings",
        "truncate_long_strings",
        "ignore_unknown_fields",
        "id_tag_suffix",
        "meter_in_kwh",
    )
    search_fields = ("name", "vendor", "model")


@admin.register(ChargePoint)
class ChargePointAdmin(ChargePointCommandsMixin, admin.ModelAdmin):
    form = ChargePointForm
    inlines = (ConnectorInline,)
    list_display = (
        "charge_point_id",
        "station",
        "registration_status",
        "is_online",
        "has_password",
        "vendor",
        "model",
        "firmware_version",
        "last_heartbeat",
        "last_seen",
    )
    list_filter = ("registration_status", "is_online", "station", "vendor")
    list_select_related = ("station",)
    search_fields = (
        "charge_point_id",
        "vendor",
        "model",
        "charge_point_serial_number",
        "charge_box_serial_number",
        "station__name",
    )
    date_hierarchy = "created_at"
    autocomplete_fields = ("station",)
    readonly_fields = (
        ("has_password", "status_badges")
        + REPORTED_BY_CHARGE_POINT
        + CONNECTION_STATE
        + ("recent_commands", "known_configuration")
    )
    fieldsets = (
        (_("Status"), {"fields": ("status_badges",)}),
        (None, {"fields": ("charge_point_id", "station", "registration_status")}),
        (_("Security"), {"fields": ("security_profile",)}),
        (_("Protocol"), {"fields": ("heartbeat_interval", "compatibility_profile")}),
        (_("Password"), {"fields": ("has_password", "new_password", "clear_password")}),
        (_("Reported by the charge point"), {"fields": REPORTED_BY_CHARGE_POINT}),
        (_("Connection"), {"fields": CONNECTION_STATE}),
        (_("Commands"), {"fields": ("recent_commands",)}),
        (_("Configuration"), {"fields": ("known_configuration",), "classes": ("collapse",)}),
    )

    @admin.display(description=_("has password"), boolean=True)
    def has_password(self, obj):
        return bool(obj.password)

    @admin.display(description=_("status"))
    def status_badges(self, obj):
        return console.chargepoint_badges(obj)

    @admin.display(description=_("node holding the socket"))
    def socket_node(self, obj):
        return console.socket_node(obj)


@admin.register(Connector)
class ConnectorAdmin(admin.ModelAdmin):
    # Not __str__: it shows the charge point's primary key, not its OCPP id.
    list_display = (
        "charge_point",
        "connector_id",
        "status",
        "error_code",
        "info",
        "status_timestamp",
    )
    list_display_links = ("charge_point", "connector_id")
    list_filter = ("status", "error_code")
    list_select_related = ("charge_point",)
    search_fields = ("charge_point__charge_point_id", "info", "vendor_error_code")
    date_hierarchy = "status_timestamp"
    autocomplete_fields = ("charge_point",)
    readonly_fields = (
        "status",
        "error_code",
        "info",
        "vendor_id",
        "vendor_error_code",
        "status_timestamp",
        "updated_at",
        "status_history",
    )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        return ("charge_point", "connector_id") + self.readonly_fields

    @admin.display(description=_("status history"))
    def status_history(self, obj):
        if obj.pk is None:
            return None
        return _changelist_link(
            "stations_connectorstatuslog", f"connector__id__exact={obj.pk}", _("Show")
        )


@admin.register(ConnectorStatusLog)
class ConnectorStatusLogAdmin(HistoryAdmin):
    list_display = (
        "received_at",
        "charge_point",
        "connector_number",
        "status",
        "error_code",
        "info",
        "vendor_error_code",
        "timestamp",
    )
    list_filter = ("status", "error_code")
    list_select_related = ("connector__charge_point",)
    search_fields = ("connector__charge_point__charge_point_id", "info", "vendor_error_code")
    date_hierarchy = "received_at"

    @admin.display(description=_("charge point"), ordering="connector__charge_point")
    def charge_point(self, obj):
        return obj.connector.charge_point

    @admin.display(description=_("connector id"), ordering="connector__connector_id")
    def connector_number(self, obj):
        return obj.connector.connector_id


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
        return _all_fields(self.model) + self.readonly_fields

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
class MeterValueAdmin(HistoryAdmin):
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
class OrphanStopTransactionAdmin(HistoryAdmin):
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
class DataTransferRecordAdmin(HistoryAdmin):
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


# --- Reservations and smart charging ----------------------------------------


@admin.register(Reservation)
class ReservationAdmin(HistoryAdmin):
    list_display = (
        "reservation_id",
        "charge_point",
        "connector_id",
        "id_tag",
        "parent_id_tag",
        "expiry_date",
        "status",
        "transaction",
    )
    list_filter = ("status",)
    list_select_related = ("charge_point",)
    search_fields = ("=reservation_id", "id_tag", "charge_point__charge_point_id")
    date_hierarchy = "expiry_date"


class ChargingSchedulePeriodInline(ReadOnlyInline, admin.TabularInline):
    model = ChargingSchedulePeriod
    fields = ("start_period", "limit", "number_phases")
    readonly_fields = fields


@admin.register(ChargingProfile)
class ChargingProfileAdmin(HistoryAdmin):
    inlines = (ChargingSchedulePeriodInline,)
    list_display = (
        "charge_point",
        "connector_id",
        "charging_profile_id",
        "purpose",
        "stack_level",
        "kind",
        "charging_rate_unit",
        "installed_at",
        "cleared_at",
    )
    list_filter = ("purpose", "kind", ("cleared_at", admin.EmptyFieldListFilter))
    list_select_related = ("charge_point",)
    search_fields = ("charge_point__charge_point_id", "=charging_profile_id")


@admin.register(CompositeSchedule)
class CompositeScheduleAdmin(HistoryAdmin):
    list_display = ("charge_point", "connector_id", "schedule_start", "fetched_at")
    list_select_related = ("charge_point",)
    search_fields = ("charge_point__charge_point_id",)


@admin.register(SecurityEvent)
class SecurityEventAdmin(HistoryAdmin):
    list_display = (
        "received_at",
        "charge_point",
        "claimed_id",
        "origin",
        "event_type",
        "critical",
        "tech_info",
        "source_address",
    )
    list_filter = ("critical", "origin", "event_type")
    list_select_related = ("charge_point",)
    search_fields = ("charge_point__charge_point_id", "claimed_id", "event_type", "source_address")
    date_hierarchy = "received_at"

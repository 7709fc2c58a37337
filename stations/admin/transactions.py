"""Console pages for sessions, meter values and what charge points send."""

from decimal import Decimal

from django.contrib import admin
from django.core.exceptions import ObjectDoesNotExist
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _
from ocpp.v16 import enums as v16
from ocpp.v201 import enums as v201

from billing.reports import transaction_cost_estimate
from monitoring.admin_base import ReadOnlyInline, ReadOnlyModelAdmin
from monitoring.admin_paginator import LargeTableAdminMixin, choices_filter, related_key_filter
from monitoring.charts import transaction_chart_svg
from ocpp_consumer.admin_quick import SessionStopColumnMixin

from ..choices import DisputeResolution, SessionStatus
from ..models import (
    DataTransferRecord,
    MeterValue,
    OrphanStopTransaction,
    Transaction,
)
from ..selectors import transaction_energy_so_far, transaction_list
from .base import METER_VALUE_INLINE_LIMIT, _changelist_link
from .disputes import DisputeFilter, TransactionDisputeMixin
from .session_search import SEARCH_HELP, session_search_filter

EMPTY = "—"
# The prices of a tariff snapshot, in the order operators read them.
TARIFF_PRICES = (
    ("price_per_kwh", _("per kWh"), True),
    ("price_per_minute", _("per minute charging"), True),
    ("idle_price_per_minute", _("per minute idle"), True),
    ("idle_grace_minutes", _("idle grace (minutes)"), False),
    ("idle_power_threshold_w", _("idle below (W)"), False),
    ("session_fee", _("session fee"), True),
    ("min_price", _("minimum price"), True),
    ("max_price", _("maximum price"), True),
    ("vat_rate", _("VAT (%)"), False),
)

# --- Transactions and meter values ----------------------------------------


def meter_segments_html(segments) -> str:
    """The register's stretches between resets, with the energy of each."""
    rows = [
        (segment.get("from_wh"), segment.get("to_wh"), _segment_energy(segment))
        for segment in segments or ()
        if isinstance(segment, dict)
    ]
    if not rows:
        return EMPTY
    body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
    return format_html(
        "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
        _("register from (Wh)"),
        _("register to (Wh)"),
        _("energy (Wh)"),
        body,
    )


def _segment_energy(segment: dict):
    try:
        return int(segment["to_wh"]) - int(segment["from_wh"])
    except (KeyError, TypeError, ValueError):
        return EMPTY


def tariff_snapshot_html(snapshot) -> str:
    """The prices fixed at the start: name, currency, each price, time-of-day periods."""
    if not snapshot:
        return EMPTY
    if not isinstance(snapshot, dict):
        return format_html("<code>{}</code>", snapshot)
    currency = snapshot.get("currency") or ""

    def price(value, with_currency: bool) -> str:
        if value in (None, ""):
            return EMPTY
        return f"{value} {currency}".strip() if with_currency else str(value)

    name = snapshot.get("name") or EMPTY
    if isinstance(snapshot.get("id"), int):  # the tariff as it is now, if it still exists
        url = reverse("admin:billing_tariff_change", args=[snapshot["id"]])
        name = format_html('<a href="{}">{}</a>', url, name)
    rows = [(_("tariff"), name), (_("currency"), currency or EMPTY)]
    rows += [
        (label, price(snapshot[key], with_currency))
        for key, label, with_currency in TARIFF_PRICES
        if key in snapshot
    ]
    known = {"id", "name", "currency", "periods", *(key for key, _label, _money in TARIFF_PRICES)}
    rows += [(key, value) for key, value in snapshot.items() if key not in known]
    table = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows)
    periods = [
        (
            f"{period.get('start', '')[:5]}–{period.get('end', '')[:5]}",
            price(period.get("price_per_kwh"), True),
            price(period.get("price_per_minute"), True),
        )
        for period in snapshot.get("periods") or ()
        if isinstance(period, dict)
    ]
    if not periods:
        return format_html("<table>{}</table>", table)
    return format_html(
        "<table>{}</table><table><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
        "<tbody>{}</tbody></table>",
        table,
        _("time of day"),
        _("per kWh"),
        _("per minute charging"),
        format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", periods),
    )


def duration_text(seconds: float) -> str:
    """H:MM:SS, hours counting on past a day (as the dashboard writes durations)."""
    seconds = max(int(seconds), 0)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class ChargePointConnectionFilter(admin.SimpleListFilter):
    """Sessions by whether their charge point is connected now (the dashboard links
    "running sessions on offline charge points" here)."""

    title = _("charge point connection")
    parameter_name = "cp_online"

    def lookups(self, request, model_admin):
        return (("yes", _("online")), ("no", _("offline")))

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(charge_point__is_online=self.value() == "yes")
        return queryset


class LatestMeterValuesFormSet(BaseInlineFormSet):
    """Keep a long session's page small: show only its latest meter values."""

    def get_queryset(self):
        # Evaluated once: the formset asks for its queryset for every row it
        # builds, and a fresh slice would be a fresh query each time.
        if not hasattr(self, "_latest"):
            self._latest = list(super().get_queryset()[:METER_VALUE_INLINE_LIMIT])
        return self._latest


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
class TransactionAdmin(
    LargeTableAdminMixin, SessionStopColumnMixin, TransactionDisputeMixin, ReadOnlyModelAdmin
):
    inlines = (MeterValueInline,)
    list_display = (
        "id",
        "charge_point",
        "connector_number",
        "id_tag",
        "status",
        "start_timestamp",
        "stop_timestamp",
        "energy_kwh",
        "duration_column",
        "cost_column",
        "stop_reason",
        "dispute_column",
        "invoice_link",
    )
    list_filter = (
        "status",
        DisputeFilter,
        ChargePointConnectionFilter,
        "stop_reason",
        # Set by the links from a charge point; never lists all 10,000 charge points.
        related_key_filter("charge_point", title=_("charge point")),
    )
    list_select_related = ("charge_point__station", "connector", "invoice")
    # Exact matches by index (session_search); Django's substring search read every session.
    search_fields = ("id__exact", "id_tag", "charge_point__charge_point_id")
    search_help_text = SEARCH_HELP
    date_hierarchy = "start_timestamp"
    # The orders an index serves; any other column would sort every session.
    sortable_by = ("id", "start_timestamp")
    readonly_fields = (
        "energy_kwh",
        "meter_segments_table",
        "tariff_table",
        "invoice_link",
        "dispute_state",
        "dispute_reasons",
        "all_meter_values",
        "meter_chart",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "id",
                    "status",
                    "charge_point",
                    "connector",
                    "id_tag",
                    "tag",
                    "start_auth_status",
                    "reservation_id",
                )
            },
        ),
        (
            _("Time"),
            {
                "fields": (
                    "start_timestamp",
                    "stop_timestamp",
                    "stop_reason",
                    "stop_id_tag",
                    "stale_since",
                )
            },
        ),
        (
            _("Energy"),
            {
                "fields": (
                    "energy_kwh",
                    "energy_wh",
                    "energy_source",
                    "meter_start",
                    "meter_stop",
                    "meter_segments_table",
                    "energy_wh_reported",
                )
            },
        ),
        (_("Billing"), {"fields": ("tariff_table", "invoice_link")}),
        (
            _("Dispute"),
            {
                "fields": (
                    "dispute_state",
                    "disputed_at",
                    "dispute_reasons",
                    "dispute_resolution",
                    "dispute_resolved_at",
                    "dispute_resolved_by",
                    "dispute_note",
                )
            },
        ),
        (_("Meter values"), {"fields": ("meter_chart", "all_meter_values")}),
        (_("Record"), {"fields": ("created_at", "updated_at")}),
    )

    def get_queryset(self, request):
        # With the latest register reading of each row: a running session's
        # energy and cost so far without a query per row (transaction_energy_so_far,
        # billing.reports.transaction_cost_estimate: the station's time zone).
        queryset = transaction_list().select_related("invoice", "charge_point__station")
        ordering = self.get_ordering(request)
        return queryset.order_by(*ordering) if ordering else queryset

    def get_search_results(self, request, queryset, search_term):
        matches = session_search_filter(search_term)
        return (queryset if matches is None else queryset.filter(matches)), False

    def get_fieldsets(self, request, obj=None):
        if obj is not None and obj.disputed_at is not None:
            return self.fieldsets
        # Never disputed: the section says so and nothing more.
        return tuple(
            (name, {"fields": ("dispute_state",)}) if name == _("Dispute") else (name, options)
            for name, options in self.fieldsets
        )

    @admin.display(description=_("connector id"), ordering="connector__connector_id")
    def connector_number(self, obj):
        return obj.connector.connector_id

    @admin.display(description=_("energy (kWh)"), ordering="energy_wh")
    def energy_kwh(self, obj):
        energy_wh = transaction_energy_so_far(transaction=obj)
        if energy_wh is None:
            return EMPTY
        kwh = f"{Decimal(energy_wh) / 1000:.3f}"
        return format_html("{} ({})", kwh, _("so far")) if obj.is_open else kwh

    @admin.display(description=_("duration"))
    def duration_column(self, obj):
        if obj.is_open:
            seconds = (timezone.now() - obj.start_timestamp).total_seconds()
            return format_html("{} ({})", duration_text(seconds), _("so far"))
        if obj.stop_timestamp is None or obj.status == SessionStatus.REFUSED:
            return EMPTY
        return duration_text((obj.stop_timestamp - obj.start_timestamp).total_seconds())

    @admin.display(description=_("cost"), ordering="invoice__total")
    def cost_column(self, obj):
        """The invoice's gross total; for a running session what it costs so far."""
        try:
            invoice = obj.invoice
        except ObjectDoesNotExist:
            invoice = None
        if invoice is not None:
            return f"{invoice.total} {invoice.currency}"
        if not obj.is_open:
            return EMPTY  # not invoiced (yet): disputed, refused, free or failed
        bill = transaction_cost_estimate(transaction=obj, at=timezone.now())
        if bill is None:
            return EMPTY
        return format_html("{} {} ({})", bill.total, bill.currency, _("so far"))

    @admin.display(description=_("invoice"))
    def invoice_link(self, obj):
        try:
            invoice = obj.invoice
        except ObjectDoesNotExist:
            return EMPTY
        url = reverse("admin:billing_invoice_change", args=[invoice.pk])
        return format_html('<a href="{}">{}</a>', url, invoice.number)

    @admin.display(description=_("dispute"), ordering="disputed_at")
    def dispute_column(self, obj):
        if obj.is_disputed:
            return format_html("<strong>{}</strong>", _("waiting for a decision"))
        if obj.dispute_resolution:
            return DisputeResolution(obj.dispute_resolution).label
        return EMPTY

    @admin.display(description=_("dispute"))
    def dispute_state(self, obj):
        if obj.disputed_at is None:
            return _("Not disputed.")
        if obj.is_disputed:
            return format_html(
                "<strong>{}</strong> {}",
                _("Waiting for a decision: not billed until then."),
                _("Disputed since %(when)s.") % {"when": _local(obj.disputed_at)},
            )
        return _("%(decision)s by %(who)s on %(when)s.") % {
            "decision": DisputeResolution(obj.dispute_resolution).label,
            "who": obj.dispute_resolved_by or _("someone since removed"),
            "when": _local(obj.dispute_resolved_at),
        }

    @admin.display(description=_("why disputed"))
    def dispute_reasons(self, obj):
        reasons = [line for line in obj.dispute_reason.splitlines() if line.strip()]
        if not reasons:
            return EMPTY
        items = format_html_join("", "<li>{}</li>", ((reason,) for reason in reasons))
        return format_html("<ul>{}</ul>", items)

    @admin.display(description=_("meter segments"))
    def meter_segments_table(self, obj):
        return meter_segments_html(obj.meter_segments)

    @admin.display(description=_("tariff at start"))
    def tariff_table(self, obj):
        return tariff_snapshot_html(obj.tariff_snapshot)

    @admin.display(description=_("energy and power"))
    def meter_chart(self, obj):
        return transaction_chart_svg(transaction=obj)

    @admin.display(description=_("all meter values"))
    def all_meter_values(self, obj):
        return _changelist_link(
            "stations_metervalue", f"transaction__id__exact={obj.pk}", _("Show")
        )


def _local(moment) -> str:
    if moment is None:
        return EMPTY
    return localtime(moment).strftime("%Y-%m-%d %H:%M")


@admin.register(MeterValue)
class MeterValueAdmin(LargeTableAdminMixin, ReadOnlyModelAdmin):
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
    # OCPP's vocabularies, not SELECT DISTINCT over millions of readings (one per filter).
    list_filter = (
        choices_filter("measurand", (v16.Measurand, v201.MeasurandEnumType), title=_("measurand")),
        choices_filter(
            "unit", (v16.UnitOfMeasure, v201.StandardizedUnitsOfMeasureType), title=_("unit")
        ),
        choices_filter(
            "context", (v16.ReadingContext, v201.ReadingContextEnumType), title=_("context")
        ),
        choices_filter("location", (v16.Location, v201.LocationEnumType), title=_("location")),
        choices_filter("phase", (v16.Phase, v201.PhaseEnumType), title=_("phase")),
    )
    sortable_by = ("timestamp",)
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

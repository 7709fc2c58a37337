"""The operator console for tariffs and the invoices the system issues.

Invoices, their lines and the number sequence are read-only: the system
issues them, and an edited invoice would no longer match its transaction.
"""

from decimal import Decimal

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import Invoice, InvoiceLine, InvoiceSequence, Tariff


def _all_fields(model) -> tuple[str, ...]:
    return tuple(field.name for field in model._meta.concrete_fields)


class ReadOnlyAdminMixin:
    """Let operators look, not add, edit or delete."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Tariff)
class TariffAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "price_per_kwh",
        "vat_rate",
        "currency",
        "station",
        "charge_point",
        "is_default",
        "priority",
        "valid_from",
        "valid_until",
    )
    list_filter = ("currency", "is_default", "station")
    list_select_related = ("station", "charge_point")
    search_fields = ("name", "station__name", "charge_point__charge_point_id")
    date_hierarchy = "created_at"
    autocomplete_fields = ("station", "charge_point")
    readonly_fields = ("created_at",)


class InvoiceLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = InvoiceLine
    fields = ("component", "description", "quantity", "unit", "unit_price", "amount")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    inlines = (InvoiceLineInline,)
    list_display = (
        "number",
        "transaction_link",
        "charge_point",
        "energy_kwh",
        "net_total",
        "vat_total",
        "total",
        "currency",
        "issued_at",
    )
    list_filter = ("currency", "tariff")
    list_select_related = ("transaction__charge_point", "tariff")
    search_fields = (
        "number",
        "transaction__id__exact",
        "transaction__id_tag",
        "transaction__charge_point__charge_point_id",
    )
    date_hierarchy = "issued_at"
    readonly_fields = ("transaction_link", "energy_kwh")

    def get_readonly_fields(self, request, obj=None):
        return _all_fields(self.model) + self.readonly_fields

    @admin.display(description=_("transaction"), ordering="transaction")
    def transaction_link(self, obj):
        url = reverse("admin:stations_transaction_change", args=[obj.transaction_id])
        return format_html('<a href="{}">{}</a>', url, obj.transaction_id)

    @admin.display(description=_("charge point"), ordering="transaction__charge_point")
    def charge_point(self, obj):
        return obj.transaction.charge_point

    @admin.display(description=_("energy (kWh)"), ordering="energy_wh")
    def energy_kwh(self, obj):
        return f"{Decimal(obj.energy_wh) / 1000:.3f}"


@admin.register(InvoiceLine)
class InvoiceLineAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("invoice", "component", "description", "quantity", "unit", "amount")
    list_filter = ("component",)
    list_select_related = ("invoice",)
    search_fields = ("invoice__number", "description")

    def get_readonly_fields(self, request, obj=None):
        return _all_fields(self.model)


@admin.register(InvoiceSequence)
class InvoiceSequenceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("year", "last_number")

    def get_readonly_fields(self, request, obj=None):
        return _all_fields(self.model)

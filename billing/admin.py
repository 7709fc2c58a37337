"""The operator console for tariffs and the invoices the system issues.

Invoices, their lines and the number sequence are read-only: the system
issues them, and an edited invoice would no longer match its transaction.
Operators download an invoice's PDF, export CSV for accounting, and see
(and retry) the sessions that could not be invoiced.
"""

from decimal import Decimal

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from monitoring.admin_base import ReadOnlyInline, ReadOnlyModelAdmin
from monitoring.admin_paginator import LargeTableAdminMixin, choices_filter
from stations.admin.session_search import session_ids_matching

from .admin_revenue import revenue_view
from .csv_export import ExportForm, export_response
from .models import (
    BillingFailure,
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    StationEnergyHour,
    TagGroup,
    Tariff,
    TariffPeriod,
)
from .pdf import invoice_pdf_bytes
from .pricing import Period, periods_overlap
from .snapshot_display import tariff_snapshot_html
from .tasks import invoice_create_for_transaction


@admin.register(TagGroup)
class TagGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name", "id_tags__id_tag")
    autocomplete_fields = ("id_tags",)
    readonly_fields = ("created_at",)


class TariffPeriodFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        periods = [
            Period(form.cleaned_data["start_time"], form.cleaned_data["end_time"])
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("start_time")
            and form.cleaned_data.get("end_time")
        ]
        if periods_overlap(periods):
            raise ValidationError(_("Time-of-day periods of a tariff must not overlap."))


class TariffPeriodInline(admin.TabularInline):
    model = TariffPeriod
    formset = TariffPeriodFormSet
    fields = ("start_time", "end_time", "price_per_kwh", "price_per_minute")
    extra = 0


@admin.register(Tariff)
class TariffAdmin(admin.ModelAdmin):
    inlines = (TariffPeriodInline,)
    list_display = (
        "name",
        "price_per_kwh",
        "price_per_minute",
        "idle_price_per_minute",
        "session_fee",
        "vat_rate",
        "currency",
        "scope",
        "is_default",
        "priority",
        "valid_from",
        "valid_until",
    )
    list_filter = ("currency", "is_default", "station", "tag_group")
    list_select_related = ("station", "charge_point", "connector__charge_point", "tag_group")
    search_fields = ("name", "station__name", "charge_point__charge_point_id", "tag_group__name")
    date_hierarchy = "created_at"
    autocomplete_fields = ("station", "charge_point", "connector", "tag_group")
    readonly_fields = ("created_at",)
    fieldsets = (
        (None, {"fields": ("name", "currency", "vat_rate")}),
        (
            _("Prices (net)"),
            {
                "fields": (
                    "price_per_kwh",
                    "price_per_minute",
                    "session_fee",
                    ("min_price", "max_price"),
                )
            },
        ),
        (
            _("Idle fee"),
            {
                "fields": (
                    "idle_price_per_minute",
                    "idle_grace_minutes",
                    "idle_power_threshold_w",
                )
            },
        ),
        (
            _("Where and when it applies"),
            {
                "description": _(
                    "The most specific tariff in force at the start of a session applies: "
                    "id tag group, then connector, charge point, station, then the default."
                ),
                "fields": (
                    "is_default",
                    ("station", "charge_point", "connector"),
                    "tag_group",
                    "priority",
                    ("valid_from", "valid_until"),
                    "created_at",
                ),
            },
        ),
    )

    @admin.display(description=_("scope"))
    def scope(self, obj):
        parts = [obj.tag_group, obj.connector, obj.charge_point, obj.station]
        return " / ".join(str(part) for part in parts if part) or "-"


class InvoiceLineInline(ReadOnlyInline, admin.TabularInline):
    model = InvoiceLine
    fields = ("component", "description", "quantity", "unit", "unit_price", "amount")
    readonly_fields = fields
    show_change_link = False  # the invoice shows its lines in full


@admin.register(Invoice)
class InvoiceAdmin(LargeTableAdminMixin, ReadOnlyModelAdmin):
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
        "pdf_link",
    )
    # The tariffs' currencies (a small table), not SELECT DISTINCT over every invoice.
    list_filter = (
        choices_filter(
            "currency",
            lambda: (
                Tariff.objects.order_by("currency").values_list("currency", flat=True).distinct()
            ),
            title=_("currency"),
        ),
        "tariff",
    )
    list_select_related = ("transaction__charge_point", "tariff")
    # Exact matches by index (get_search_results): a substring search read every invoice.
    search_fields = (
        "number",
        "transaction__id__exact",
        "transaction__id_tag",
        "transaction__charge_point__charge_point_id",
    )
    search_help_text = _("An invoice number, or a session id, id tag or charge point id (exact).")
    date_hierarchy = "issued_at"
    sortable_by = ("number", "issued_at")  # indexed; another column sorts every invoice
    readonly_fields = ("transaction_link", "energy_kwh", "pdf_link", "tariff_terms")
    actions = ("download_pdf",)
    change_list_template = "admin/billing/invoice/change_list.html"

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        sessions = session_ids_matching(term)
        return queryset.filter(Q(number=term) | Q(transaction_id__in=sessions)), False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/pdf/", view(self.pdf_view), name="billing_invoice_pdf"),
            path("export/", view(self.export_view), name="billing_invoice_export"),
            path(
                "revenue/", view(self.revenue_view), name="billing_invoice_revenue"
            ),  # the revenue report (billing.admin_revenue)
            *super().get_urls(),
        ]

    def pdf_view(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        invoice = get_object_or_404(
            Invoice.objects.select_related(
                "transaction__charge_point__station", "transaction__connector"
            ),
            pk=pk,
        )
        return _pdf_response(invoice)

    def revenue_view(self, request):
        return revenue_view(self, request)

    def export_view(self, request):
        """A form (kind, date range, station) answered with a CSV file."""
        form = ExportForm(request.GET or None)
        if form.is_valid():
            needed = (
                "billing.view_invoice"
                if form.cleaned_data["kind"] == ExportForm.INVOICES
                else "stations.view_transaction"
            )
            if not request.user.has_perm(needed):
                raise PermissionDenied
            return export_response(form, request=request)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Export CSV"),
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/billing/invoice/export.html", context)

    @admin.action(description=_("Download the PDF of the selected invoice"))
    def download_pdf(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one invoice."), messages.WARNING)
            return None
        return _pdf_response(queryset.get())

    @admin.display(description=_("PDF"))
    def pdf_link(self, obj):
        url = reverse("admin:billing_invoice_pdf", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Download PDF"))

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

    def get_fields(self, request, obj=None):
        # The prices the invoice kept, as a table where the raw JSON would be.
        fields = [name for name in super().get_fields(request, obj) if name != "tariff_terms"]
        return ["tariff_terms" if name == "tariff_snapshot" else name for name in fields]

    @admin.display(description=_("tariff snapshot"))
    def tariff_terms(self, obj):
        return tariff_snapshot_html(obj.tariff_snapshot)


@admin.register(InvoiceLine)
class InvoiceLineAdmin(ReadOnlyModelAdmin):
    list_display = ("invoice", "component", "description", "quantity", "unit", "amount")
    list_filter = ("component",)
    list_select_related = ("invoice",)
    search_fields = ("invoice__number", "description")


@admin.register(InvoiceSequence)
class InvoiceSequenceAdmin(ReadOnlyModelAdmin):
    list_display = ("year", "last_number")


def _pdf_response(invoice: Invoice) -> HttpResponse:
    return HttpResponse(
        invoice_pdf_bytes(invoice),
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="invoice-{invoice.number}.pdf"'},
    )


@admin.register(BillingFailure)
class BillingFailureAdmin(ReadOnlyModelAdmin):
    """Sessions that could not be invoiced: fix the cause (e.g. a tariff), then retry."""

    list_display = (
        "transaction_link",
        "error",
        "attempts",
        "will_retry",
        "first_failed_at",
        "last_failed_at",
        "resolved_at",
    )
    list_filter = (("resolved_at", admin.EmptyFieldListFilter), "will_retry")
    search_fields = ("transaction__id__exact", "error")
    date_hierarchy = "last_failed_at"
    readonly_fields = ("transaction_link",)
    actions = ("retry_invoicing",)

    @admin.display(description=_("transaction"), ordering="transaction")
    def transaction_link(self, obj):
        url = reverse("admin:stations_transaction_change", args=[obj.transaction_id])
        return format_html('<a href="{}">{}</a>', url, obj.transaction_id)

    @admin.action(description=_("Retry invoicing"), permissions=["view"])
    def retry_invoicing(self, request, queryset):
        pending = queryset.filter(resolved_at__isnull=True)
        transaction_ids = list(pending.values_list("transaction_id", flat=True))
        for transaction_id in transaction_ids:
            transaction.on_commit(
                lambda pk=transaction_id: invoice_create_for_transaction.delay(pk)
            )
        count = len(transaction_ids)
        self.message_user(
            request,
            ngettext(
                "Invoicing of %(count)d session queued.",
                "Invoicing of %(count)d sessions queued.",
                count,
            )
            % {"count": count},
        )


@admin.register(StationEnergyHour)
class StationEnergyHourAdmin(ReadOnlyModelAdmin):
    list_display = ("hour", "station", "energy_kwh", "session_count", "updated_at")
    list_filter = ("station",)
    list_select_related = ("station",)
    date_hierarchy = "hour"

    @admin.display(description=_("energy (kWh)"), ordering="energy_wh")
    def energy_kwh(self, obj):
        return f"{Decimal(obj.energy_wh) / 1000:.3f}"

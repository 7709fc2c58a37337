"""Query filters of the billing API (django-filter)."""

from __future__ import annotations

import django_filters as filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from api_support.filters import UpdatedFilterSet

from .models import BillingFailure, Invoice, Tariff


class InvoiceFilterSet(UpdatedFilterSet):
    transaction = filters.NumberFilter(field_name="transaction_id", label=_("transaction id"))
    charge_point = filters.CharFilter(
        field_name="transaction__charge_point__charge_point_id", label=_("charge point id")
    )
    id_tag = filters.CharFilter(field_name="transaction__id_tag", lookup_expr="iexact")
    issued_after = filters.IsoDateTimeFilter(field_name="issued_at", lookup_expr="gte")
    issued_before = filters.IsoDateTimeFilter(field_name="issued_at", lookup_expr="lt")

    class Meta:
        model = Invoice
        fields = {"currency": ["exact"], "number": ["exact"], "total": ["gte", "lte"]}


class TariffFilterSet(filters.FilterSet):
    station = filters.NumberFilter(field_name="station_id", label=_("station id"))
    charge_point = filters.CharFilter(
        field_name="charge_point__charge_point_id", label=_("charge point id")
    )
    valid_at = filters.IsoDateTimeFilter(method="filter_valid_at", label=_("in force at"))

    class Meta:
        model = Tariff
        fields = {"currency": ["exact"], "is_default": ["exact"]}

    def filter_valid_at(self, queryset, name, value):
        return queryset.filter(
            Q(valid_from__isnull=True) | Q(valid_from__lte=value),
            Q(valid_until__isnull=True) | Q(valid_until__gt=value),
        )


class BillingFailureFilterSet(filters.FilterSet):
    resolved = filters.BooleanFilter(
        method="filter_resolved",
        label=_("true: invoiced since; false: still without an invoice"),
    )
    transaction = filters.NumberFilter(field_name="transaction_id", label=_("transaction id"))

    class Meta:
        model = BillingFailure
        fields = {"will_retry": ["exact"]}

    def filter_resolved(self, queryset, name, value):
        return queryset.filter(resolved_at__isnull=not value)

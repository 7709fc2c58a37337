"""Shapes of tariffs and invoices in the API."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from api_support.row_plans import RowPlanMixin
from stations.models import ChargePoint

from ..models import BillingFailure, Invoice, InvoiceLine, Tariff, TariffPeriod


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Station tariff",
            value={
                "name": "Market Square",
                "currency": "EUR",
                "price_per_kwh": "0.3900",
                "vat_rate": "21.00",
                "station": 7,
                "charge_point": None,
                "is_default": False,
                "priority": 10,
                "valid_from": "2027-01-01T00:00:00Z",
                "valid_until": None,
            },
            request_only=True,
        )
    ]
)
class TariffPeriodSerializer(serializers.ModelSerializer):
    class Meta:
        model = TariffPeriod
        exclude = ["tariff"]


class TariffSerializer(serializers.ModelSerializer):
    """Every field of the model, so that new price components show up as they are added."""

    periods = TariffPeriodSerializer(
        many=True, read_only=True, help_text="Time-of-day prices (edited in the admin)."
    )

    charge_point = serializers.SlugRelatedField(
        slug_field="charge_point_id",
        queryset=ChargePoint.objects.all(),
        allow_null=True,
        required=False,
        help_text="charge point id (the OCPP identity)",
    )

    class Meta:
        model = Tariff
        fields = "__all__"

    def validate_currency(self, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{3}", value):
            raise serializers.ValidationError(_("Use the ISO 4217 code, e.g. EUR."))
        return value.upper()

    def create(self, validated_data):
        return self._save(Tariff(), validated_data)

    def update(self, instance, validated_data):
        return self._save(instance, validated_data)

    def _save(self, tariff: Tariff, validated_data: dict) -> Tariff:
        """Save after the model's own checks (scope rules, constraints), as the admin does."""
        for name, value in validated_data.items():
            setattr(tariff, name, value)
        try:
            tariff.full_clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc
        tariff.save()
        return tariff


# Where invoice_list() (billing/api/views.py) puts each invoice's lines: a list.
PREFETCHED_LINES = "api_lines"


class InvoiceLineListSerializer(serializers.ListSerializer):
    """An invoice's lines as invoice_list() fetched them for the page, else its relation.

    A plain list per invoice: Django's prefetch into the `lines` relation builds
    a queryset per invoice to hold them (8 of the 35 ms a page of 500 took to load).
    """

    def get_attribute(self, instance):
        lines = instance.__dict__.get(PREFETCHED_LINES)
        return super().get_attribute(instance) if lines is None else lines


class InvoiceLineSerializer(RowPlanMixin, serializers.ModelSerializer):
    class Meta:
        model = InvoiceLine
        fields = ["component", "description", "quantity", "unit", "unit_price", "amount"]
        read_only_fields = fields
        list_serializer_class = InvoiceLineListSerializer


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Invoice",
            value={
                "id": 31,
                "number": "2026-000031",
                "transaction": 1234,
                "currency": "EUR",
                "energy_wh": 7500,
                "net_total": "2.93",
                "vat_total": "0.61",
                "total": "3.54",
                "issued_at": "2026-11-26T10:45:05Z",
                "tariff": 3,
                "lines": [
                    {
                        "component": "energy",
                        "description": "Energy",
                        "quantity": "7.5000",
                        "unit": "kWh",
                        "unit_price": "0.3900",
                        "amount": "2.93",
                    }
                ],
            },
            response_only=True,
        )
    ]
)
class InvoiceSerializer(RowPlanMixin, serializers.ModelSerializer):
    lines = InvoiceLineSerializer(many=True, read_only=True)

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "transaction",
            "currency",
            "energy_wh",
            "net_total",
            "vat_total",
            "total",
            "issued_at",
            "tariff",
            "lines",
            "updated_at",  # the last change: what ?updated_since= and cursor pages read
        ]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "No tariff",
            value={
                "id": 4,
                "transaction": 1234,
                "charge_point": "CP-0001",
                "error": "No tariff applies to this session.",
                "attempts": 3,
                "will_retry": False,
                "first_failed_at": "2026-11-26T11:00:05Z",
                "last_failed_at": "2026-11-26T11:00:40Z",
                "resolved_at": None,
                "is_resolved": False,
            },
            response_only=True,
        )
    ]
)
class BillingFailureSerializer(serializers.ModelSerializer):
    """Why a finished session has no invoice yet."""

    charge_point = serializers.CharField(
        source="transaction.charge_point.charge_point_id", read_only=True
    )
    is_resolved = serializers.SerializerMethodField(
        help_text="True once an invoice was issued after all."
    )

    class Meta:
        model = BillingFailure
        fields = [
            "id",
            "transaction",
            "charge_point",
            "error",
            "attempts",
            "will_retry",
            "first_failed_at",
            "last_failed_at",
            "resolved_at",
            "is_resolved",
        ]
        read_only_fields = fields

    def get_is_resolved(self, failure) -> bool:
        return failure.resolved_at is not None

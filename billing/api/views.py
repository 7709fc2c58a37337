"""Tariffs, invoices and billing failures over the API.

A driver sees only their own invoices and the tariffs that can apply to
them; billing failures are for operators. The price quote of a connector is
in quotes.py.
"""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, viewsets
from rest_framework.decorators import action

from api_support.permissions import (
    OperatorModelPermissions,
    OperatorOrDriverReadOnly,
    is_operator,
)
from api_support.schema import COMMON_ERRORS, READ_ERRORS, crud_schema
from api_support.views import ApiViewMixin, IdempotentCreateMixin, ProtectedDestroyMixin
from stations.selectors import transaction_owned_q

from ..filtersets import BillingFailureFilterSet, InvoiceFilterSet, TariffFilterSet
from ..models import BillingFailure, Invoice, InvoiceLine, Tariff
from ..pdf import invoice_pdf_bytes
from ..selectors import tariff_list_for_driver
from .serializers import (
    PREFETCHED_LINES,
    BillingFailureSerializer,
    InvoiceSerializer,
    TariffSerializer,
)


def invoice_list(*, user=None):
    """All invoices, or those of the driver who is `user` (by their transactions)."""
    lines = InvoiceLine.objects.order_by("id")
    queryset = Invoice.objects.prefetch_related(
        Prefetch("lines", queryset=lines, to_attr=PREFETCHED_LINES)
    )
    if user is not None:
        if not user.is_authenticated:
            return queryset.none()
        queryset = queryset.filter(transaction_owned_q(user=user, prefix="transaction__"))
    return queryset


@extend_schema_view(
    **crud_schema(
        tag="tariffs",
        serializer=TariffSerializer,
        noun="tariff",
        plural="tariffs",
        list_description=(
            "Price lists. The most specific tariff in force when a session starts applies "
            "(id tag group, connector, charge point, station, then the default). Operators "
            "see every tariff; a driver sees those that can apply to them: valid now or "
            "from a later `valid_from`, public or reserved for an id tag group holding one "
            "of their tags (or its parent), at charge points in service. What a session "
            "would cost at one connector: `charge-points/{id}/connectors/{n}/quote/`."
        ),
        invalid_example={"currency": ["Use the ISO 4217 code, e.g. EUR."]},
    )
)
class TariffViewSet(
    ApiViewMixin, IdempotentCreateMixin, ProtectedDestroyMixin, viewsets.ModelViewSet
):
    serializer_class = TariffSerializer
    permission_classes = [OperatorOrDriverReadOnly]
    filterset_class = TariffFilterSet
    search_fields = ["name"]
    ordering_fields = ["name", "priority", "price_per_kwh", "valid_from", "created_at"]

    def get_queryset(self):
        user = self.request.user
        if is_operator(user):
            return Tariff.objects.select_related("charge_point").prefetch_related("periods")
        # A driver: only what can apply to them (not another group's prices).
        return tariff_list_for_driver(user=user).select_related("charge_point")


@extend_schema_view(
    **crud_schema(
        tag="invoices",
        serializer=InvoiceSerializer,
        noun="invoice",
        plural="invoices",
        writable=False,
        list_description="One per finished, billed transaction; a driver sees only their own.",
    ),
    pdf=extend_schema(
        tags=["invoices"],
        summary="Download an invoice as PDF",
        description=(
            "The invoice as a printable PDF (the same lines and totals as the JSON). A "
            "driver gets only their own; 404 otherwise."
        ),
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="PDF"),
            **READ_ERRORS,
        },
    ),
)
class InvoiceViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = InvoiceSerializer
    permission_classes = [OperatorOrDriverReadOnly]
    lookup_value_regex = r"[0-9]+"
    filterset_class = InvoiceFilterSet
    search_fields = ["number"]
    ordering_fields = ["issued_at", "number", "total", "updated_at"]
    sync_cursor = True

    def get_queryset(self):
        user = self.request.user
        return invoice_list(user=None if is_operator(user) else user)

    def perform_content_negotiation(self, request, force=False):
        # The PDF is sent as it is; errors stay JSON whatever the Accept header says.
        return super().perform_content_negotiation(request, force=force or self.action == "pdf")

    @action(detail=True, methods=["get"], filter_backends=[])
    def pdf(self, request, pk=None):
        invoice = self.get_object()
        response = HttpResponse(invoice_pdf_bytes(invoice), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="invoice-{invoice.number}.pdf"'
        return response


@extend_schema(
    tags=["me"],
    summary="My invoices",
    description=(
        "The signed-in driver's invoices, newest first: one per finished, billed session "
        "of their id tags. Filters as for `invoices/`."
    ),
    responses={200: InvoiceSerializer(many=True), **COMMON_ERRORS},
)
class MyInvoiceList(ApiViewMixin, generics.ListAPIView):
    serializer_class = InvoiceSerializer
    filterset_class = InvoiceFilterSet
    ordering_fields = ["issued_at", "number", "total", "updated_at"]
    sync_cursor = True

    def get_queryset(self):
        return invoice_list(user=self.request.user)


@extend_schema_view(
    **crud_schema(
        tag="billing failures",
        serializer=BillingFailureSerializer,
        noun="billing failure",
        plural="billing failures",
        writable=False,
        list_description=(
            "Finished sessions that could not be invoiced, and why (operators only). "
            "`?resolved=false` keeps those still without an invoice: fix the cause (e.g. "
            "a tariff), then retry invoicing in the console."
        ),
    )
)
class BillingFailureViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = BillingFailureSerializer
    permission_classes = [OperatorModelPermissions]
    lookup_value_regex = r"[0-9]+"
    filterset_class = BillingFailureFilterSet
    search_fields = ["error"]
    ordering_fields = ["last_failed_at", "first_failed_at", "attempts"]

    def get_queryset(self):
        return BillingFailure.objects.select_related("transaction__charge_point")

"""Streamed exports of sessions and invoices for accounting and data warehouses (operators).

`GET /api/v1/exports/{transactions|invoices}.{csv|json}` with a period
(`?month=2026-11` in the operator's time zone, or `?start=&end=` as ISO 8601,
end excluded; neither: everything) and optionally `?station=`. The same
columns as the console's CSV export (billing.selectors), read in keyset
batches and streamed (api_support/streaming.py): a month of a network of
10,000 chargers never sits in memory.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.views import APIView

from api_support.permissions import is_operator
from api_support.schema import COMMON_ERRORS
from api_support.streaming import csv_chunks, json_chunks, streaming_file
from api_support.views import ApiViewMixin

from .. import selectors

EXPORTS = {
    "transactions": (
        "stations.view_transaction",
        selectors.TRANSACTION_CSV_HEADER,
        selectors.transaction_export_rows,
    ),
    "invoices": (
        "billing.view_invoice",
        selectors.INVOICE_CSV_HEADER,
        selectors.invoice_export_rows,
    ),
}
FORMATS = {
    "csv": ("text/csv; charset=utf-8", csv_chunks),
    "json": ("application/json", json_chunks),
}


class ExportPeriodSerializer(serializers.Serializer):
    month = serializers.RegexField(
        r"^[0-9]{4}-(0[1-9]|1[0-2])$",
        required=False,
        error_messages={"invalid": _("A month as YYYY-MM.")},
        help_text="The calendar month in the operator's time zone (TIME_ZONE).",
    )
    start = serializers.DateTimeField(required=False, help_text="From (included), ISO 8601.")
    end = serializers.DateTimeField(required=False, help_text="Until (excluded), ISO 8601.")
    station = serializers.IntegerField(required=False, min_value=1, help_text="A station id.")

    def validate(self, data):
        if "month" in data:
            if "start" in data or "end" in data:
                raise serializers.ValidationError(
                    {"month": [_("Give either month or start/end, not both.")]}
                )
            year, month = (int(part) for part in data.pop("month").split("-"))
            following = (year + 1, 1) if month == 12 else (year, month + 1)
            try:
                data["start"] = timezone.make_aware(datetime(year, month, 1))
                data["end"] = timezone.make_aware(datetime(*following, 1))
            except (ValueError, OverflowError) as exc:  # year 0, or past 9999
                raise serializers.ValidationError({"month": [_("A month as YYYY-MM.")]}) from exc
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            raise serializers.ValidationError({"end": [_("The end is not after the start.")]})
        return data


class ExportPermission(BasePermission):
    """Operators allowed to view what is exported; never drivers."""

    message = _("Exports are for operators allowed to view these records.")

    def has_permission(self, request, view):
        user = request.user
        needed = EXPORTS[view.kwargs["kind"]][0]
        return bool(user and user.is_authenticated and is_operator(user)) and user.has_perm(needed)


@extend_schema(
    tags=["exports"],
    summary="Export sessions or invoices (streamed CSV or JSON)",
    description=(
        "Sessions (by start) or invoices (by issue time) of a period, oldest first, as a CSV "
        "file or a JSON array, streamed as they are read: a month of a large network starts "
        "at once and never sits in the server's memory. Operators allowed to view "
        "transactions (respectively invoices) only. Columns as in the console's export."
    ),
    parameters=[
        ExportPeriodSerializer,
        OpenApiParameter("kind", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(EXPORTS)),
        OpenApiParameter(
            "file_format", OpenApiTypes.STR, OpenApiParameter.PATH, enum=["csv", "json"]
        ),
    ],
    responses={
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="CSV"),
        (200, "application/json"): OpenApiResponse(
            OpenApiTypes.OBJECT, description="a JSON array of objects"
        ),
        **COMMON_ERRORS,
    },
)
class ExportView(ApiViewMixin, APIView):
    permission_classes = [ExportPermission]

    def get(self, request, kind: str, file_format: str):
        period = ExportPeriodSerializer(data=request.query_params)
        period.is_valid(raise_exception=True)
        data = period.validated_data
        _permission, header, read_rows = EXPORTS[kind]
        content_type, encode = FORMATS[file_format]
        rows = read_rows(
            start=data.get("start"), end=data.get("end"), station_id=data.get("station")
        )
        span = "-".join(
            moment.date().isoformat() for moment in (data.get("start"), data.get("end")) if moment
        )
        return streaming_file(
            encode(header, rows),
            request=request,
            content_type=content_type,
            filename=f"{kind}{'-' + span if span else ''}.{file_format}",
        )

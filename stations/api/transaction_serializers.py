"""Shapes of charging sessions in the API: the session, its meter values, its dispute."""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from api_support.row_plans import RowPlanMixin

from ..choices import DisputeResolution, SessionStatus
from ..models import MeterValue, Transaction
from ..selectors import transaction_energy_so_far


class MeterSegmentSerializer(RowPlanMixin, serializers.Serializer):
    """One stretch of the energy register between resets."""

    from_wh = serializers.IntegerField(read_only=True, help_text="Register at the segment's start.")
    to_wh = serializers.IntegerField(read_only=True, help_text="Register at the segment's end.")


# What drivers see of a session; operators see the dispute's details too.
DRIVER_TRANSACTION_FIELDS = [
    "id",
    "ocpp_transaction_id",
    "charge_point",
    "connector_id",
    "id_tag",
    "status",
    "meter_start",
    "meter_stop",
    "energy_wh",
    "meter_segments",
    "start_timestamp",
    "stop_timestamp",
    "stop_reason",
    "is_open",
    "is_disputed",
    "tariff_snapshot",
    "invoice",
    "updated_at",  # the last change: what ?updated_since= and cursor pages read
]
DISPUTE_FIELDS = [
    "disputed_at",
    "dispute_reason",
    "dispute_resolution",
    "dispute_resolved_at",
    "dispute_note",
    "energy_wh_reported",
]


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Running session",
            value={
                "id": 1234,
                "ocpp_transaction_id": "",
                "charge_point": "CP-0001",
                "connector_id": 1,
                "id_tag": "04A2B3C4D5",
                "status": "running",
                "meter_start": 10000,
                "meter_stop": None,
                "energy_wh": 2500,
                "meter_segments": [],
                "start_timestamp": "2026-11-26T10:00:00Z",
                "stop_timestamp": None,
                "stop_reason": "",
                "is_open": True,
                "is_disputed": False,
                "tariff_snapshot": {
                    "id": 12,
                    "name": "Market Square",
                    "currency": "EUR",
                    "price_per_kwh": "0.3900",
                    "vat_rate": "21.00",
                    "periods": [],
                },
                "invoice": None,
                "disputed_at": None,
                "dispute_reason": "",
                "dispute_resolution": "",
                "dispute_resolved_at": None,
                "dispute_note": "",
                "energy_wh_reported": None,
            },
            response_only=True,
        ),
        OpenApiExample(
            "Corrected after a dispute",
            value={
                "id": 1240,
                "ocpp_transaction_id": "",
                "charge_point": "CP-0001",
                "connector_id": 2,
                "id_tag": "04A2B3C4D5",
                "status": "ended",
                "meter_start": 70000,
                "meter_stop": 1500,
                "energy_wh": 7300,
                "meter_segments": [
                    {"from_wh": 70000, "to_wh": 76000},
                    {"from_wh": 200, "to_wh": 1500},
                ],
                "start_timestamp": "2026-11-26T10:00:00Z",
                "stop_timestamp": "2026-11-26T11:00:00Z",
                "stop_reason": "Local",
                "is_open": False,
                "is_disputed": False,
                "tariff_snapshot": None,
                "invoice": 31,
                "disputed_at": "2026-11-26T11:00:01Z",
                "dispute_reason": "The energy register went backwards.",
                "dispute_resolution": "corrected",
                "dispute_resolved_at": "2026-11-27T09:12:00Z",
                "dispute_note": "Meter replaced during the session; figure from the site log.",
                "energy_wh_reported": 7500,
            },
            response_only=True,
        ),
    ]
)
class TransactionSerializer(RowPlanMixin, serializers.ModelSerializer):
    """A session as operators see it, the dispute and its resolution included."""

    id = serializers.IntegerField(
        read_only=True, help_text="The OCPP 1.6 transactionId (for 2.0.1 sessions, ours)."
    )
    ocpp_transaction_id = serializers.CharField(
        read_only=True,
        help_text="OCPP 2.0.1: the transactionId the charging station chose; empty for 1.6.",
    )
    charge_point = serializers.SlugRelatedField(slug_field="charge_point_id", read_only=True)
    connector_id = serializers.IntegerField(source="connector.connector_id", read_only=True)
    energy_wh = serializers.SerializerMethodField(
        help_text="Energy delivered in Wh; for a running session, so far (from the latest "
        "Energy.Active.Import.Register reading; null before the first one). After a "
        "corrected dispute, the corrected figure (the reported one is `energy_wh_reported`)."
    )
    status = serializers.ChoiceField(
        choices=SessionStatus.choices,
        read_only=True,
        help_text="running; ended; refused (the start was refused: it never ran and is never "
        "billed); superseded (a new start on the connector ended it).",
    )
    is_open = serializers.BooleanField(
        read_only=True, help_text="status is running (a refused start never is)."
    )
    is_disputed = serializers.BooleanField(
        read_only=True,
        help_text="Disputed and waiting for an operator's decision: not billed until then.",
    )
    meter_segments = MeterSegmentSerializer(
        many=True,
        read_only=True,
        help_text="How the energy was worked out: the register's stretches between resets "
        "(empty: one stretch from meter_start).",
    )
    tariff_snapshot = serializers.JSONField(
        read_only=True,
        allow_null=True,
        help_text="The prices fixed when the session started (the tariff's id and name, "
        "currency, prices, time-of-day periods, VAT rate): what its invoice is priced "
        "with, whatever the tariff says now; null when none applied.",
    )
    invoice = serializers.SerializerMethodField(
        help_text="The invoice's id (invoices/{id}/); null: not billed (yet: a session is "
        "invoiced shortly after it ends)."
    )
    dispute_reason = serializers.CharField(
        read_only=True, help_text="Why the session is disputed, one reason per line."
    )
    dispute_resolution = serializers.ChoiceField(
        choices=DisputeResolution.choices,
        allow_blank=True,
        read_only=True,
        help_text="The operator's decision: accepted, corrected or voided (never billed); "
        "empty while undecided or never disputed.",
    )
    energy_wh_reported = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="The energy the charger's data gave, kept when an operator corrected it.",
    )

    class Meta:
        model = Transaction
        fields = DRIVER_TRANSACTION_FIELDS + DISPUTE_FIELDS
        read_only_fields = fields
        extra_kwargs = {
            "disputed_at": {"help_text": "When the session was first disputed."},
            "dispute_resolved_at": {"help_text": "When the operator decided."},
            "dispute_note": {"help_text": "The operator's note on the decision."},
        }

    def get_energy_wh(self, session) -> int | None:
        return transaction_energy_so_far(transaction=session)

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_invoice(self, session) -> int | None:
        try:
            return session.invoice.pk
        except ObjectDoesNotExist:
            return None


class DriverTransactionSerializer(TransactionSerializer):
    """A session as its driver sees it: whether it is disputed, not the operator's notes."""

    class Meta(TransactionSerializer.Meta):
        fields = DRIVER_TRANSACTION_FIELDS
        read_only_fields = fields


class DisputeResolveSerializer(serializers.Serializer):
    """An operator's decision on a disputed session."""

    resolution = serializers.ChoiceField(
        choices=DisputeResolution.choices,
        help_text="accepted: bill as recorded; corrected: bill `energy_wh` instead; "
        "voided: never bill it.",
    )
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=2000,
        help_text="Why: kept with the decision.",
    )
    energy_wh = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=0,
        help_text="The right energy in Wh: required to correct, refused otherwise.",
    )


class MeterValueSerializer(serializers.ModelSerializer):
    connector_id = serializers.IntegerField(source="connector.connector_id", read_only=True)

    class Meta:
        model = MeterValue
        fields = [
            "timestamp",
            "connector_id",
            "measurand",
            "value",
            "numeric_value",
            "unit",
            "phase",
            "context",
            "location",
            "format",
        ]
        read_only_fields = fields


class TimeSeriesPointSerializer(serializers.Serializer):
    timestamp = serializers.DateTimeField()
    value = serializers.FloatField()


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Energy so far",
            value={
                "transaction": 1234,
                "measurand": "Energy.Active.Import.Register",
                "phase": "",
                "unit": "Wh",
                "points": [
                    {"timestamp": "2026-11-26T10:15:00Z", "value": 2500.0},
                    {"timestamp": "2026-11-26T10:30:00Z", "value": 5000.0},
                ],
            },
            response_only=True,
        )
    ]
)
class TimeSeriesSerializer(serializers.Serializer):
    transaction = serializers.IntegerField()
    measurand = serializers.CharField()
    phase = serializers.CharField()
    unit = serializers.CharField(
        help_text="Wh for energy registers (energy delivered since the session's start)."
    )
    points = TimeSeriesPointSerializer(many=True)
    interval_seconds = serializers.IntegerField(
        allow_null=True,
        help_text=(
            "null: every point is a raw sample. Otherwise some or all points stand for an "
            "interval of this many seconds (the raw samples of an old session were rolled up, "
            "or a long session is summarised): an energy register's last reading in it, "
            "another measurand's average at the interval's start."
        ),
    )

"""Shapes of stations, charge points, reservations and charging profiles in the API."""

from __future__ import annotations

import copy
import re
import zoneinfo

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from api_support.nesting import nested_many
from api_support.row_plans import RowPlanMixin
from loadmanagement.api import GridLimitFieldMixin

from ..choices import RegistrationStatus
from ..locations import connector_max_power
from ..models import (
    CHARGE_POINT_PASSWORD_MAX_LENGTH,
    CHARGE_POINT_PASSWORD_MIN_LENGTH,
    ChargePoint,
    ChargingProfile,
    ChargingSchedulePeriod,
    CompatibilityProfile,
    Connector,
    Reservation,
    Station,
    validate_charge_point_credentials,
)
from ..models.charge_points import REPORTED_BY_CHARGE_POINT
from ..services import chargepoint_create
from ..services.registration import chargepoint_registration_set
from .location_serializers import LocationFieldsMixin, LocationOperatorSerializer

# What Station.clean() puts in canonical form (opening times sorted, codes upper case).
STATION_CLEANED_FIELDS = (
    "opening_times",
    "facilities",
    "images",
    "party_country_code",
    "party_id",
)


class ConnectorSerializer(RowPlanMixin, serializers.ModelSerializer):
    class Meta:
        model = Connector
        fields = ["connector_id", "status", "error_code"]
        read_only_fields = fields


class ConnectorDetailSerializer(serializers.ModelSerializer):
    """A connector and its live status (connector 0 is the charge point itself)."""

    charge_point = serializers.SlugRelatedField(slug_field="charge_point_id", read_only=True)
    is_online = serializers.BooleanField(source="charge_point.is_online", read_only=True)
    max_electric_power = serializers.SerializerMethodField(
        help_text="Watt: as set, else what voltage, current and phases allow; null if unknown."
    )

    class Meta:
        model = Connector
        fields = [
            "id",
            "charge_point",
            "connector_id",
            "status",
            "error_code",
            "info",
            "vendor_id",
            "vendor_error_code",
            "status_timestamp",
            "is_online",
            "updated_at",
            # The plug, as the map shows it (OCPI Connector).
            "standard",
            "format",
            "power_type",
            "max_voltage",
            "max_amperage",
            "max_electric_power",
        ]
        read_only_fields = fields

    def get_max_electric_power(self, connector) -> int | None:
        return connector_max_power(
            max_power_w=connector.max_power_w,
            power_type=connector.power_type,
            max_voltage=connector.max_voltage,
            max_amperage=connector.max_amperage,
        )


class StationChargePointSerializer(RowPlanMixin, serializers.ModelSerializer):
    connectors = ConnectorSerializer(many=True, read_only=True)

    class Meta:
        model = ChargePoint
        fields = ["charge_point_id", "is_online", "connectors"]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Station",
            value={
                "id": 7,
                "name": "Market Square",
                "address": "Market Square 1",
                "city": "Utrecht",
                "postal_code": "3511",
                "country": "NL",
                "latitude": "52.090737",
                "longitude": "5.121420",
                "time_zone": "Europe/Amsterdam",
                "created_at": "2026-01-05T09:00:00Z",
                "distance_km": None,
                "charge_points": [
                    {
                        "charge_point_id": "CP-0001",
                        "is_online": True,
                        "connectors": [
                            {"connector_id": 1, "status": "Available", "error_code": "NoError"}
                        ],
                    }
                ],
                "publish": True,
                "opening_times": {
                    "twentyfourseven": False,
                    "regular_hours": [
                        {"weekday": day, "period_begin": "07:00", "period_end": "22:00"}
                        for day in range(1, 8)
                    ],
                    "exceptional_openings": [],
                    "exceptional_closings": [
                        {
                            "period_begin": "2026-12-24T17:00:00Z",
                            "period_end": "2026-12-26T07:00:00Z",
                        }
                    ],
                },
                "charging_when_closed": True,
                "facilities": ["CAFE", "TRAIN_STATION"],
                "parking_type": "PARKING_LOT",
                "images": [
                    {
                        "url": "https://example.com/market-square.jpg",
                        "category": "LOCATION",
                        "type": "jpeg",
                        "width": 800,
                        "height": 600,
                    }
                ],
                "directions": "Behind the town hall, level -1.",
                "operator": {
                    "name": "City Charging",
                    "website": "https://example.com",
                    "phone": "+31 30 123 4567",
                    "email": "help@example.com",
                },
                "party_country_code": "NL",
                "party_id": "CCH",
                "evses": [
                    {
                        "uid": "42",
                        "evse_id": "NL*CCH*ECP0001*1",
                        "status": "AVAILABLE",
                        "charge_point_id": "CP-0001",
                        "connector_id": 1,
                        "connectors": [
                            {
                                "id": "1",
                                "standard": "IEC_62196_T2",
                                "format": "SOCKET",
                                "power_type": "AC_3_PHASE",
                                "max_voltage": 230,
                                "max_amperage": 32,
                                "max_electric_power": 22080,
                                "last_updated": "2026-01-05T09:30:00Z",
                            }
                        ],
                        "last_updated": "2026-01-05T09:30:00Z",
                    }
                ],
                "updated_at": "2026-01-05T09:00:00Z",
                "last_updated": "2026-01-05T09:30:00Z",
            },
            response_only=True,
        )
    ]
)
class StationSerializer(
    GridLimitFieldMixin, LocationFieldsMixin, RowPlanMixin, serializers.ModelSerializer
):
    """A site with its charge points and, shaped after OCPI Locations, its EVSEs.

    With `include_unaccepted` False in the context (drivers, the public),
    charge points the operator has not accepted are left out.
    """

    charge_points = serializers.SerializerMethodField()
    distance_km = serializers.SerializerMethodField(
        help_text="Distance from the searched point (only with ?latitude=&longitude=)."
    )
    operator = LocationOperatorSerializer(source="*", required=False)

    class Meta:
        model = Station
        fields = [
            "id",
            "name",
            "address",
            "city",
            "postal_code",
            "country",
            "latitude",
            "longitude",
            "time_zone",
            "created_at",
            "distance_km",
            "charge_points",
            # Location data (OCPI 2.2.1 Locations).
            "publish",
            "opening_times",
            "charging_when_closed",
            "facilities",
            "parking_type",
            "images",
            "directions",
            "operator",
            "party_country_code",
            "party_id",
            "evses",
            "updated_at",
            "last_updated",
            # Load management: the site's grid connection (operators).
            "grid_limit_w",
        ]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {
            "latitude": {"min_value": -90, "max_value": 90},
            "longitude": {"min_value": -180, "max_value": 180},
        }

    @extend_schema_field(StationChargePointSerializer(many=True))
    def get_charge_points(self, station) -> list[dict]:
        charge_points = station.charge_points.all()
        if not self.context.get("include_unaccepted", True):
            charge_points = [
                cp for cp in charge_points if cp.registration_status == RegistrationStatus.ACCEPTED
            ]
        return nested_many(self, StationChargePointSerializer, charge_points)

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_distance_km(self, station) -> float | None:
        distance = getattr(station, "distance_km", None)
        return None if distance is None else round(distance, 3)

    def validate(self, attrs):
        """Station.clean() checks the location data and puts it in canonical form."""
        attrs = super().validate(attrs)
        candidate = copy.copy(self.instance) if self.instance is not None else Station()
        for name, value in attrs.items():
            setattr(candidate, name, value)
        try:
            candidate.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc
        for name in STATION_CLEANED_FIELDS:
            if name in attrs:
                attrs[name] = getattr(candidate, name)
        return attrs

    def validate_country(self, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z]{2}", value):
            raise serializers.ValidationError(_("Use the ISO 3166-1 alpha-2 code, e.g. NL."))
        return value.upper()

    def validate_time_zone(self, value: str) -> str:
        if value not in zoneinfo.available_timezones():
            raise serializers.ValidationError(_("Unknown time zone; use an IANA name."))
        return value


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Register a charge point",
            value={
                "charge_point_id": "CP-0001",
                "station": 7,
                "password": "s3cret-passw0rd-for-cp",
                "registration_status": "Accepted",
            },
            request_only=True,
        )
    ]
)
class ChargePointSerializer(serializers.ModelSerializer):
    """A charge point as operators see and edit it."""

    station = serializers.PrimaryKeyRelatedField(
        queryset=Station.objects.all(), allow_null=True, required=False
    )
    password = serializers.CharField(
        write_only=True,
        required=False,
        allow_null=True,
        trim_whitespace=False,
        # The model's bounds, declared here too so that the schema shows them;
        # ChargePoint.set_password checks the same rule.
        min_length=CHARGE_POINT_PASSWORD_MIN_LENGTH,
        max_length=CHARGE_POINT_PASSWORD_MAX_LENGTH,
        style={"input_type": "password"},
        help_text=f"HTTP Basic password of security profile 1 "
        f"({CHARGE_POINT_PASSWORD_MIN_LENGTH}-{CHARGE_POINT_PASSWORD_MAX_LENGTH} characters); "
        "stored only as a hash. null removes it.",
    )
    has_password = serializers.SerializerMethodField()
    compatibility_profile = serializers.SlugRelatedField(
        slug_field="name",
        queryset=CompatibilityProfile.objects.all(),
        allow_null=True,
        required=False,
        help_text="By name; null: a profile matching the vendor/model, else strict.",
    )
    connectors = ConnectorSerializer(many=True, read_only=True)

    class Meta:
        model = ChargePoint
        fields = [
            "charge_point_id",
            "station",
            "password",
            "has_password",
            "security_profile",
            "registration_status",
            "compatibility_profile",
            "heartbeat_interval",
            "is_online",
            "last_heartbeat",
            "last_seen",
            "last_boot_at",
            "connected_at",
            "connectors",
            *REPORTED_BY_CHARGE_POINT,
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            name
            for name in fields
            if name
            not in (
                "charge_point_id",
                "station",
                "password",
                "security_profile",
                "registration_status",
                "compatibility_profile",
                "heartbeat_interval",
            )
        ]
        extra_kwargs = {"heartbeat_interval": {"min_value": 1}}

    def get_has_password(self, charge_point) -> bool:
        return bool(charge_point.password)

    def validate_charge_point_id(self, value: str) -> str:
        """Check the model's case-insensitive uniqueness ("cp-a" next to "CP-A") as a 400."""
        candidate = ChargePoint(pk=getattr(self.instance, "pk", None), charge_point_id=value)
        candidate._state.adding = self.instance is None  # renaming: not a clash with itself
        try:
            candidate.validate_constraints()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc
        return value

    def validate(self, attrs):
        profile = attrs.get("security_profile", getattr(self.instance, "security_profile", 0))
        if "password" in attrs:
            has_password = bool(attrs["password"])
        else:
            has_password = bool(self.instance and self.instance.password)
        try:
            validate_charge_point_credentials(security_profile=profile, has_password=has_password)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc
        return attrs

    @transaction.atomic
    def create(self, validated_data):
        station = validated_data.pop("station", None)
        charge_point = chargepoint_create(
            charge_point_id=validated_data.pop("charge_point_id"),
            password=validated_data.pop("password", None),
            registration_status=validated_data.pop("registration_status", None),
            station_id=station.pk if station else None,
        )
        # What chargepoint_create does not take (heartbeat interval, profiles).
        return super().update(charge_point, validated_data) if validated_data else charge_point

    def update(self, instance, validated_data):
        if "password" in validated_data:
            instance.set_password(validated_data.pop("password"))
        status = validated_data.pop("registration_status", None)
        instance = super().update(instance, validated_data)
        if status is not None:  # an operator's decision: the one service that records it
            decided = chargepoint_registration_set(charge_point_pk=instance.pk, status=status)
            instance.registration_status = decided.registration_status
        return instance


class ChargePointPublicSerializer(serializers.ModelSerializer):
    """A charge point as drivers see it: where it is and whether it is free."""

    connectors = ConnectorSerializer(many=True, read_only=True)

    class Meta:
        model = ChargePoint
        fields = ["charge_point_id", "station", "is_online", "last_heartbeat", "connectors"]
        read_only_fields = fields


class ReservationSerializer(serializers.ModelSerializer):
    charge_point = serializers.SlugRelatedField(slug_field="charge_point_id", read_only=True)

    class Meta:
        model = Reservation
        fields = [
            "reservation_id",
            "charge_point",
            "connector_id",
            "id_tag",
            "parent_id_tag",
            "expiry_date",
            "status",
            "transaction",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ChargingSchedulePeriodSerializer(serializers.ModelSerializer):
    class Meta:
        model = ChargingSchedulePeriod
        fields = ["start_period", "limit", "number_phases"]
        read_only_fields = fields


class ChargingProfileSerializer(serializers.ModelSerializer):
    charge_point = serializers.SlugRelatedField(slug_field="charge_point_id", read_only=True)
    periods = ChargingSchedulePeriodSerializer(many=True, read_only=True)

    class Meta:
        model = ChargingProfile
        fields = [
            "id",
            "charge_point",
            "connector_id",
            "charging_profile_id",
            "transaction_id",
            "stack_level",
            "purpose",
            "kind",
            "recurrency_kind",
            "valid_from",
            "valid_to",
            "charging_rate_unit",
            "duration",
            "start_schedule",
            "min_charging_rate",
            "periods",
            "limit_source",
            "installed_at",
            "cleared_at",
        ]
        read_only_fields = fields

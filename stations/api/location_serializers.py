"""The OCPI-shaped parts of a station in the API: operator, EVSEs and their plugs.

The objects come from stations.locations (the mapping roaming reuses);
these serializers only format them and describe them in the schema.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api_support.nesting import nested_many
from api_support.row_plans import RowPlanMixin

from ..locations import location_last_updated, station_evses
from ..models import Station
from ..models.location_data import (
    ConnectorFormat,
    ConnectorStandard,
    EvseStatus,
    PowerType,
)


class LocationOperatorSerializer(RowPlanMixin, serializers.Serializer):
    """Who runs the site and where drivers get help (OCPI BusinessDetails plus contact)."""

    name = serializers.CharField(
        source="operator_name", max_length=100, allow_blank=True, required=False
    )
    website = serializers.URLField(source="operator_website", allow_blank=True, required=False)
    phone = serializers.CharField(
        source="operator_phone", max_length=32, allow_blank=True, required=False
    )
    email = serializers.EmailField(source="operator_email", allow_blank=True, required=False)


class EvseConnectorSerializer(RowPlanMixin, serializers.Serializer):
    """An OCPI Connector: the plug of an EVSE."""

    id = serializers.CharField(help_text="The plug within its EVSE.")
    standard = serializers.ChoiceField(
        choices=ConnectorStandard.choices, allow_null=True, help_text="OCPI ConnectorType."
    )
    format = serializers.ChoiceField(choices=ConnectorFormat.choices, allow_null=True)
    power_type = serializers.ChoiceField(choices=PowerType.choices, allow_null=True)
    max_voltage = serializers.IntegerField(allow_null=True, help_text="Volt.")
    max_amperage = serializers.IntegerField(allow_null=True, help_text="Ampere.")
    max_electric_power = serializers.IntegerField(
        allow_null=True,
        help_text="Watt: as set, else what voltage, current and phases allow; null if unknown.",
    )
    last_updated = serializers.DateTimeField(allow_null=True)


class EvseSerializer(RowPlanMixin, serializers.Serializer):
    """An OCPI EVSE: where one car charges at a time."""

    uid = serializers.CharField(help_text="Stable id of the EVSE in this system.")
    evse_id = serializers.CharField(
        allow_null=True,
        help_text="eMI3 EVSE id (e.g. NL*ABC*ECP0001*1); null without an operator id.",
    )
    status = serializers.ChoiceField(
        choices=EvseStatus.choices,
        help_text="OCPI status; UNKNOWN while the charge point is offline.",
    )
    charge_point_id = serializers.CharField(help_text="The OCPP identity of the charge point.")
    connector_id = serializers.IntegerField(
        help_text="The OCPP connector (1.6) or EVSE (2.0.1) id, e.g. for quotes and remote start."
    )
    connectors = EvseConnectorSerializer(many=True)
    last_updated = serializers.DateTimeField(allow_null=True)


# One field formats every station's last_updated (it keeps no state of its own).
_MOMENT = serializers.DateTimeField()


class LocationFieldsMixin(serializers.Serializer):
    """`evses` and `last_updated` of a station, computed once per station."""

    evses = serializers.SerializerMethodField(
        help_text="One per connector (OCPP 1.6) or EVSE (2.0.1), with its plug."
    )
    last_updated = serializers.SerializerMethodField(
        help_text="When the station or one of its EVSEs last changed."
    )

    def _evses_of(self, station: Station) -> list[dict]:
        cached = getattr(station, "_api_evses", None)
        if cached is None:
            cached = station_evses(
                station, include_unaccepted=self.context.get("include_unaccepted", True)
            )
            station._api_evses = cached
        return cached

    @extend_schema_field(EvseSerializer(many=True))
    def get_evses(self, station) -> list[dict]:
        return nested_many(self, EvseSerializer, self._evses_of(station))

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_last_updated(self, station) -> str | None:
        moment = location_last_updated(station, self._evses_of(station))
        return _MOMENT.to_representation(moment) if moment else None

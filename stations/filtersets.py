"""Query filters of the stations API (django-filter)."""

from __future__ import annotations

import django_filters as filters
from django import forms
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from api_support.filters import UpdatedFilterSet
from api_support.permissions import is_operator

from .choices import ConnectorStatus, RegistrationStatus, SessionStatus, StopReason
from .locations import (
    station_filter_available_now,
    station_filter_min_power,
    station_filter_standards,
)
from .models import (
    ChargePoint,
    ChargingProfile,
    Connector,
    MeterValue,
    Reservation,
    ReservationStatus,
    Station,
    Transaction,
)
from .models.location_data import ConnectorStandard
from .selectors import (
    station_annotate_distance,
    station_filter_available,
    transaction_disputed_q,
)

DEFAULT_RADIUS_KM = 10


class StrictBooleanField(forms.Field):
    """true/false (or 1/0, any case); anything else is an error, not "no filter"."""

    default_error_messages = {"invalid": _("Give true or false.")}
    TRUE, FALSE = ("true", "1"), ("false", "0")

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


class StrictBooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField


class IntegerFilter(filters.NumberFilter):
    field_class = forms.IntegerField


class StationSearchForm(forms.Form):
    def clean(self):
        data = super().clean()
        if (data.get("latitude") is None) != (data.get("longitude") is None):
            self.add_error("latitude", _("Give both latitude and longitude."))
        return data


class StationFilterSet(filters.FilterSet):
    latitude = filters.NumberFilter(
        method="filter_near",
        min_value=-90,
        max_value=90,
        label=_("latitude of the point to search around (with longitude)"),
    )
    longitude = filters.NumberFilter(
        method="filter_near",
        min_value=-180,
        max_value=180,
        label=_("longitude of the point to search around (with latitude)"),
    )
    radius_km = filters.NumberFilter(
        method="filter_near",
        min_value=0,
        max_value=20_000,
        label=_("with latitude/longitude: only stations within this many km (default 10)"),
    )
    available = StrictBooleanFilter(
        method="filter_available",
        label=_("true: only stations with a free connector on an online charge point"),
    )
    available_now = StrictBooleanFilter(
        method="filter_available_now",
        label=_(
            "true: only stations with an EVSE AVAILABLE now (a connector Available on an "
            "online, accepted charge point)"
        ),
    )
    standard = filters.MultipleChoiceFilter(
        method="filter_standard",
        choices=ConnectorStandard.choices,
        label=_("only stations with a plug of this OCPI ConnectorType (repeat for any of several)"),
    )
    min_power_w = IntegerFilter(
        method="filter_min_power",
        min_value=1,
        max_value=100_000_000,
        label=_("only stations with a plug delivering at least this many watts"),
    )

    class Meta:
        model = Station
        form = StationSearchForm
        fields = {"country": ["exact"], "city": ["exact", "icontains"], "postal_code": ["exact"]}

    def filter_near(self, queryset, name, value):
        return queryset  # applied once, in filter_queryset, from all three values

    def filter_available(self, queryset, name, value):
        return station_filter_available(queryset) if value else queryset

    def filter_available_now(self, queryset, name, value):
        return station_filter_available_now(queryset) if value else queryset

    def filter_standard(self, queryset, name, value):
        if not value:
            return queryset
        return station_filter_standards(
            queryset, standards=value, accepted_only=self._accepted_only()
        )

    def filter_min_power(self, queryset, name, value):
        if value is None:
            return queryset
        return station_filter_min_power(queryset, watts=value, accepted_only=self._accepted_only())

    def _accepted_only(self) -> bool:
        """Drivers and the public see the plugs of accepted charge points only."""
        return not is_operator(getattr(self.request, "user", None))

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        if data.get("latitude") is None or data.get("longitude") is None:
            return queryset
        radius_km = data.get("radius_km") or DEFAULT_RADIUS_KM
        near = station_annotate_distance(
            queryset, latitude=float(data["latitude"]), longitude=float(data["longitude"])
        )
        return near.filter(distance_km__lte=float(radius_km)).order_by("distance_km", "name")


class ChargePointFilterSet(UpdatedFilterSet):
    station = filters.NumberFilter(field_name="station_id", label=_("station id"))
    connector_status = filters.ChoiceFilter(
        method="filter_connector_status",
        choices=ConnectorStatus.choices,
        label=_("has a connector in this status"),
    )
    registration_status = filters.ChoiceFilter(choices=RegistrationStatus.choices)

    class Meta:
        model = ChargePoint
        fields = {
            "is_online": ["exact"],
            "vendor": ["exact"],
            "model": ["exact"],
            "last_heartbeat": ["gte", "lte"],
        }

    def filter_connector_status(self, queryset, name, value):
        # A semi-join, not a join made DISTINCT: the page's order is read from its index and
        # stops after one page (a DISTINCT over every charge point's row took 106 ms at 10,000).
        if not value:
            return queryset
        return queryset.filter(
            Exists(Connector.objects.filter(charge_point=OuterRef("pk"), status=value))
        )


class TransactionFilterSet(UpdatedFilterSet):
    charge_point = filters.CharFilter(
        field_name="charge_point__charge_point_id", label=_("charge point id")
    )
    connector_id = filters.NumberFilter(field_name="connector__connector_id")
    id_tag = filters.CharFilter(field_name="id_tag", lookup_expr="iexact")
    ocpp_transaction_id = filters.CharFilter(label=_("OCPP 2.0.1: the charger's transaction id"))
    # By status, not by a missing stop: a refused start never stopped and never ran.
    is_open = filters.BooleanFilter(method="filter_is_open", label=_("running now"))
    status = filters.ChoiceFilter(choices=SessionStatus.choices)
    disputed = filters.BooleanFilter(
        method="filter_disputed",
        label=_("true: disputed and waiting for an operator's decision; false: the others"),
    )
    started_after = filters.IsoDateTimeFilter(field_name="start_timestamp", lookup_expr="gte")
    started_before = filters.IsoDateTimeFilter(field_name="start_timestamp", lookup_expr="lt")
    stopped_after = filters.IsoDateTimeFilter(field_name="stop_timestamp", lookup_expr="gte")
    stopped_before = filters.IsoDateTimeFilter(field_name="stop_timestamp", lookup_expr="lt")
    stop_reason = filters.ChoiceFilter(choices=StopReason.choices)

    class Meta:
        model = Transaction
        fields: list[str] = []

    def filter_is_open(self, queryset, name, value):
        running = Q(status=SessionStatus.RUNNING)
        return queryset.filter(running) if value else queryset.exclude(running)

    def filter_disputed(self, queryset, name, value):
        disputed = transaction_disputed_q()
        return queryset.filter(disputed) if value else queryset.exclude(disputed)


class MeterValueFilterSet(filters.FilterSet):
    measurand = filters.CharFilter()
    phase = filters.CharFilter()
    context = filters.CharFilter()
    after = filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    before = filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="lt")

    class Meta:
        model = MeterValue
        fields: list[str] = []


class ReservationFilterSet(filters.FilterSet):
    charge_point = filters.CharFilter(
        field_name="charge_point__charge_point_id", label=_("charge point id")
    )
    status = filters.ChoiceFilter(choices=ReservationStatus.choices)
    id_tag = filters.CharFilter(lookup_expr="iexact")
    expires_after = filters.IsoDateTimeFilter(field_name="expiry_date", lookup_expr="gte")
    expires_before = filters.IsoDateTimeFilter(field_name="expiry_date", lookup_expr="lt")

    class Meta:
        model = Reservation
        fields: list[str] = []


class ChargingProfileFilterSet(filters.FilterSet):
    charge_point = filters.CharFilter(
        field_name="charge_point__charge_point_id", label=_("charge point id")
    )
    connector_id = filters.NumberFilter()
    purpose = filters.CharFilter()
    installed = filters.BooleanFilter(
        field_name="cleared_at", lookup_expr="isnull", label=_("still installed")
    )

    class Meta:
        model = ChargingProfile
        fields: list[str] = []


class ConnectorFilterSet(filters.FilterSet):
    charge_point = filters.CharFilter(
        field_name="charge_point__charge_point_id", label=_("charge point id")
    )
    connector_id = filters.NumberFilter()
    status = filters.ChoiceFilter(choices=ConnectorStatus.choices)
    error_code = filters.CharFilter()
    online = filters.BooleanFilter(field_name="charge_point__is_online", label=_("online"))

    class Meta:
        model = Connector
        fields: list[str] = []

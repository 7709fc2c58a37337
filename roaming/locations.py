"""Our stations as OCPI 2.2.1 Location objects (the Locations module, Sender interface).

The EVSEs, their status and plugs come from stations.locations, the one
mapping the driver app's map uses too; this module adds what only roaming
needs: the Location envelope, the alpha-3 country, the tariff of each plug
and the modification time in SQL for date filters.

A station is published to partners when it is published on the map and
has coordinates and a country (OCPI requires both).
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import Case, F, Max, Q, QuerySet, When
from django.db.models.functions import Greatest
from django.utils import timezone

from billing.models import Tariff
from billing.selectors import tariff_specificity
from stations.locations import station_evses
from stations.models import Station
from stations.selectors import station_list

from .countries import ALPHA_3, country_alpha_3
from .formats import ocpi_datetime


def stations_published() -> QuerySet[Station]:
    """The stations partners see: on the map, with coordinates and a country OCPI knows."""
    return Station.objects.filter(
        publish=True,
        latitude__isnull=False,
        longitude__isnull=False,
        country__in=list(ALPHA_3),
    )


def location_queryset(
    *, date_from: datetime | None = None, date_to: datetime | None = None
) -> QuerySet[Station]:
    """Published stations with `ocpi_last_updated`, oldest first, in the date window.

    `ocpi_last_updated` is the latest change of the station, its charge
    points (connection included) and connectors: at least every
    last_updated of its EVSEs (stations.locations), so that a partner
    polling with date_from sees every EVSE change.
    """
    charge_point_contact = Case(
        When(charge_points__is_online=True, then=F("charge_points__connected_at")),
        default=F("charge_points__last_seen"),
    )
    queryset = (
        stations_published()
        .alias(
            charge_points_changed=Max("charge_points__updated_at"),
            contact=Max(charge_point_contact),
            connectors_changed=Max("charge_points__connectors__updated_at"),
        )
        .annotate(
            ocpi_last_updated=Greatest(
                "updated_at", "charge_points_changed", "contact", "connectors_changed"
            )
        )
        .order_by("pk")
    )
    if date_from is not None:
        queryset = queryset.filter(ocpi_last_updated__gte=date_from)
    if date_to is not None:
        queryset = queryset.filter(ocpi_last_updated__lt=date_to)
    return queryset


def locations_load(page: list[tuple[int, datetime]]) -> list[Station]:
    """The stations of (pk, ocpi_last_updated) rows with their charge points and connectors."""
    loaded = {
        station.pk: station for station in station_list().filter(pk__in=[pk for pk, _ in page])
    }
    stations = []
    for pk, last_updated in page:
        if pk in loaded:
            loaded[pk].ocpi_last_updated = last_updated
            stations.append(loaded[pk])
    return stations


class TariffChooser:
    """Which of our public tariffs applies at a connector now (billing's rule of specificity).

    Tariffs reserved for an id tag group are ours, not a roaming driver's:
    they are never published. Loaded once per request.
    """

    def __init__(self, now: datetime | None = None):
        now = now or timezone.now()
        self.tariffs = list(
            Tariff.objects.filter(tag_group__isnull=True)
            .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=now))
            .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
            .exclude(
                is_default=False,
                station__isnull=True,
                charge_point__isnull=True,
                connector__isnull=True,
            )
        )

    def tariff_id(self, *, station_pk: int, charge_point_pk: int, connector_pk: int) -> str | None:
        matching = [
            tariff
            for tariff in self.tariffs
            if tariff.station_id in (None, station_pk)
            and tariff.charge_point_id in (None, charge_point_pk)
            and tariff.connector_id in (None, connector_pk)
        ]
        best = max(matching, key=tariff_specificity, default=None)
        return str(best.pk) if best else None


def location_object(station: Station, *, tariffs: TariffChooser) -> dict:
    """The OCPI Location of a station loaded by locations_load()."""
    charge_point_pks = {cp.charge_point_id: cp.pk for cp in station.charge_points.all()}
    evses = [
        evse_object(evse, station=station, tariffs=tariffs, charge_point_pks=charge_point_pks)
        for evse in station_evses(station, include_unaccepted=False)
    ]
    location = {
        "country_code": station.party_country_code or settings.OCPI_COUNTRY_CODE,
        "party_id": station.party_id or settings.OCPI_PARTY_ID,
        "id": str(station.pk),
        "publish": True,
        "name": station.name,
        "address": station.address,
        "city": station.city,
        "postal_code": station.postal_code or None,
        "country": country_alpha_3(station.country),
        "coordinates": {
            "latitude": f"{station.latitude:.6f}",
            "longitude": f"{station.longitude:.6f}",
        },
        "parking_type": station.parking_type or None,
        "evses": evses,
        "directions": (
            [{"language": settings.LANGUAGE_CODE[:2], "text": station.directions}]
            if station.directions
            else None
        ),
        "operator": _operator(station),
        "facilities": station.facilities or None,
        "time_zone": station.time_zone,
        "opening_times": station.opening_times or None,
        "charging_when_closed": station.charging_when_closed,
        "images": station.images or None,
        "last_updated": ocpi_datetime(
            getattr(station, "ocpi_last_updated", None) or station.updated_at
        ),
    }
    return _without_nulls(location)


def evse_object(evse: dict, *, station, tariffs: TariffChooser, charge_point_pks: dict) -> dict:
    """An OCPI EVSE from stations.locations' EVSE (without its OCPP address)."""
    charge_point_pk = charge_point_pks[evse["charge_point_id"]]
    tariff_id = tariffs.tariff_id(
        station_pk=station.pk, charge_point_pk=charge_point_pk, connector_pk=int(evse["uid"])
    )
    connectors = []
    for connector in evse["connectors"]:
        connectors.append(
            _without_nulls(
                {
                    **connector,
                    "tariff_ids": [tariff_id] if tariff_id else None,
                    "last_updated": ocpi_datetime(connector["last_updated"]),
                }
            )
        )
    return _without_nulls(
        {
            "uid": evse["uid"],
            "evse_id": evse["evse_id"],
            "status": evse["status"],
            "connectors": connectors,
            "last_updated": ocpi_datetime(evse["last_updated"]),
        }
    )


def _operator(station: Station) -> dict | None:
    if not station.operator_name:
        return None
    return _without_nulls(
        {"name": station.operator_name, "website": station.operator_website or None}
    )


def _without_nulls(values: dict) -> dict:
    """Optional OCPI fields without a value are left out rather than sent as null."""
    return {key: value for key, value in values.items() if value is not None}

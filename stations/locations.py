"""Stations as OCPI 2.2.1 Locations: EVSEs, their status, their plugs.

One place maps our charge points and connectors to OCPI's EVSE and
Connector objects, for the API's map and for roaming alike. The mapping
functions read what station_list() prefetched and never query; the query
helpers at the end are the same rules in SQL, for filtering.

An EVSE is one of our connectors: for OCPP 1.6 a connector (OCPI asks for
one "virtual" EVSE per connector of a 1.x charge point), for OCPP 2.0.1 an
EVSE (its plugs share one description). Connector 0, the charge point as a
whole, is never an EVSE; its Unavailable or Faulted status covers them all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from django.db.models import (
    Case,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from .choices import ConnectorStatus, OcppVersion, RegistrationStatus
from .models import Connector, Station
from .models.location_data import EVSE_ID_MAX_LENGTH, EvseStatus, PowerType

# OCPP 1.6 connector statuses (2.0.1 EVSE statuses are stored in the same
# spelling) as OCPI EVSE statuses. Preparing, the suspended states and
# Finishing all have a car at the plug: nobody else can charge there.
OCPI_STATUS = {
    ConnectorStatus.AVAILABLE: EvseStatus.AVAILABLE,
    ConnectorStatus.PREPARING: EvseStatus.CHARGING,
    ConnectorStatus.CHARGING: EvseStatus.CHARGING,
    ConnectorStatus.SUSPENDED_EV: EvseStatus.CHARGING,
    ConnectorStatus.SUSPENDED_EVSE: EvseStatus.CHARGING,
    # Charging is over but the car still stands there: OCPI's "blocked by a car".
    ConnectorStatus.FINISHING: EvseStatus.BLOCKED,
    ConnectorStatus.RESERVED: EvseStatus.RESERVED,
    ConnectorStatus.UNAVAILABLE: EvseStatus.INOPERATIVE,
    ConnectorStatus.FAULTED: EvseStatus.OUTOFORDER,
}
# Connector 0 in these states makes every connector of the charge point so.
WHOLE_CHARGE_POINT_STATUSES = (ConnectorStatus.UNAVAILABLE, ConnectorStatus.FAULTED)

# Phases a power type draws on, for the power a plug's voltage and current
# allow. OCPI gives max_voltage line to neutral for three-phase AC; a split
# phase's voltage is taken as the one across both legs (240 V in the US).
POWER_PHASES = {
    PowerType.AC_1_PHASE: 1,
    PowerType.AC_2_PHASE: 2,
    PowerType.AC_2_PHASE_SPLIT: 1,
    PowerType.AC_3_PHASE: 3,
    PowerType.DC: 1,
}


def evse_status(
    *,
    connector_status: str,
    charge_point_online: bool,
    charge_point_accepted: bool,
    charge_point_status: str | None = None,
) -> str:
    """The OCPI status of an EVSE from what the charge point reported.

    A charge point the operator has not accepted is INOPERATIVE (no session
    can start there); one that is offline is UNKNOWN, as OCPI asks; else the
    charge point's own status (connector 0) when it is Unavailable or
    Faulted, else the connector's.
    """
    if not charge_point_accepted:
        return EvseStatus.INOPERATIVE
    if not charge_point_online:
        return EvseStatus.UNKNOWN
    if charge_point_status in WHOLE_CHARGE_POINT_STATUSES:
        return OCPI_STATUS[charge_point_status]
    return OCPI_STATUS.get(connector_status, EvseStatus.UNKNOWN)


def evse_id(
    *,
    party_country_code: str,
    party_id: str,
    charge_point_id: str,
    connector_id: int,
    printed: str = "",
) -> str | None:
    """The eMI3 EVSE id: the printed one, else COUNTRY*PARTY*E<charge point><*connector>.

    None without an operator id, or when the charge point id leaves no valid
    power outlet id (eMI3 allows letters, digits and "*", 31 at most): set the
    printed EVSE id on the connector then.
    """
    if printed:
        return printed
    if not (party_country_code and party_id):
        return None
    outlet = re.sub(r"[^A-Z0-9]", "", charge_point_id.upper())
    if not outlet:
        return None
    outlet = f"{outlet}*{connector_id}"
    candidate = f"{party_country_code}*{party_id}*E{outlet}".upper()
    if len(outlet) > 31 or len(candidate) > EVSE_ID_MAX_LENGTH:
        return None
    return candidate


def connector_max_power(
    *,
    max_power_w: int | None,
    power_type: str,
    max_voltage: int | None,
    max_amperage: int | None,
) -> int | None:
    """Watts a plug delivers at most: as set, else what its voltage and current allow."""
    if max_power_w:
        return max_power_w
    if not (power_type and max_voltage and max_amperage):
        return None
    return POWER_PHASES[power_type] * max_voltage * max_amperage


def evse_connector(connector: Connector, *, ocpp_version: str) -> dict:
    """The OCPI Connector object of one of our connectors."""
    return {
        # A 2.0.1 EVSE numbers its plugs from 1; a 1.6 connector is its own EVSE.
        "id": "1" if ocpp_version == OcppVersion.V201 else str(connector.connector_id),
        "standard": connector.standard or None,
        "format": connector.format or None,
        "power_type": connector.power_type or None,
        "max_voltage": connector.max_voltage,
        "max_amperage": connector.max_amperage,
        "max_electric_power": connector_max_power(
            max_power_w=connector.max_power_w,
            power_type=connector.power_type,
            max_voltage=connector.max_voltage,
            max_amperage=connector.max_amperage,
        ),
        "last_updated": connector.updated_at,
    }


def station_evses(station: Station, *, include_unaccepted: bool = True) -> list[dict]:
    """The OCPI EVSE objects of a station, from its prefetched charge points and connectors.

    Besides OCPI's fields each carries `charge_point_id` and `connector_id`,
    the OCPP address an app uses for quotes and remote starts.
    `include_unaccepted=False` leaves out charge points the operator has not
    accepted (what drivers and the public see).
    """
    evses = []
    for charge_point in station.charge_points.all():
        accepted = charge_point.registration_status == RegistrationStatus.ACCEPTED
        if not (accepted or include_unaccepted):
            continue
        connectors = list(charge_point.connectors.all())
        whole = next((c.status for c in connectors if c.connector_id == 0), None)
        changed = _charge_point_changed_at(charge_point)
        for connector in connectors:
            if connector.connector_id == 0:
                continue
            evses.append(
                {
                    "uid": str(connector.pk),
                    "evse_id": evse_id(
                        party_country_code=station.party_country_code,
                        party_id=station.party_id,
                        charge_point_id=charge_point.charge_point_id,
                        connector_id=connector.connector_id,
                        printed=connector.evse_id,
                    ),
                    "status": evse_status(
                        connector_status=connector.status,
                        charge_point_online=charge_point.is_online,
                        charge_point_accepted=accepted,
                        charge_point_status=whole,
                    ),
                    "charge_point_id": charge_point.charge_point_id,
                    "connector_id": connector.connector_id,
                    "connectors": [
                        evse_connector(connector, ocpp_version=charge_point.ocpp_version)
                    ],
                    "last_updated": _latest(connector.updated_at, changed),
                }
            )
    return evses


def location_last_updated(station: Station, evses: Iterable[dict]) -> datetime | None:
    """When the station or one of its EVSEs last changed (OCPI Location.last_updated)."""
    return _latest(station.updated_at, *(evse["last_updated"] for evse in evses))


def _charge_point_changed_at(charge_point) -> datetime | None:
    """When the charge point's own state last changed its EVSEs' status.

    Going on- or offline is written without touching updated_at: the
    connection time, or the last contact of one that is offline, stands in.
    """
    moment = charge_point.connected_at if charge_point.is_online else charge_point.last_seen
    return _latest(charge_point.updated_at, moment)


def _latest(*moments: datetime | None) -> datetime | None:
    known = [moment for moment in moments if moment is not None]
    return max(known) if known else None


# --- the same rules in SQL ----------------------------------------------------------


def connector_power_expression():
    """connector_max_power() as a database expression (None stays NULL)."""
    voltage_times_current = F("max_voltage") * F("max_amperage")
    return Coalesce(
        "max_power_w",
        Case(
            *(
                When(power_type=power_type, then=voltage_times_current * Value(phases))
                for power_type, phases in POWER_PHASES.items()
            ),
            default=Value(None),
            output_field=IntegerField(),
        ),
        output_field=IntegerField(),
    )


def _evses_of_station() -> QuerySet[Connector]:
    return Connector.objects.filter(charge_point__station=OuterRef("pk"), connector_id__gt=0)


def station_filter_available_now(queryset: QuerySet[Station]) -> QuerySet[Station]:
    """Stations with an EVSE whose status is AVAILABLE (see evse_status)."""
    whole_charge_point_down = Connector.objects.filter(
        charge_point=OuterRef("charge_point"),
        connector_id=0,
        status__in=WHOLE_CHARGE_POINT_STATUSES,
    )
    available = _evses_of_station().filter(
        ~Exists(whole_charge_point_down),
        charge_point__is_online=True,
        charge_point__registration_status=RegistrationStatus.ACCEPTED,
        status=ConnectorStatus.AVAILABLE,
    )
    return queryset.filter(Exists(available))


def station_filter_standards(
    queryset: QuerySet[Station], *, standards: Iterable[str], accepted_only: bool
) -> QuerySet[Station]:
    """Stations with a plug of one of these standards."""
    plugs = _evses_of_station().filter(standard__in=list(standards))
    return queryset.filter(Exists(_accepted(plugs, accepted_only)))


def station_filter_min_power(
    queryset: QuerySet[Station], *, watts: int, accepted_only: bool
) -> QuerySet[Station]:
    """Stations with a plug delivering at least this power (as connector_max_power)."""
    strong = (
        _evses_of_station().alias(power_w=connector_power_expression()).filter(power_w__gte=watts)
    )
    return queryset.filter(Exists(_accepted(strong, accepted_only)))


def station_visible_q(*, operator: bool) -> Q:
    """Stations a caller may see: operators all, everyone else the published ones."""
    return Q() if operator else Q(publish=True)


def _accepted(connectors: QuerySet[Connector], accepted_only: bool) -> QuerySet[Connector]:
    if accepted_only:
        return connectors.filter(charge_point__registration_status=RegistrationStatus.ACCEPTED)
    return connectors

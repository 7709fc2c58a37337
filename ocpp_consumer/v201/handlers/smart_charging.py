"""OCPP 2.0.1 smart charging from the station: reported profiles, external limits, EV needs.

ReportChargingProfiles answers our GetChargingProfiles (in parts, by
requestId): each part is reconciled with our profile records at once.
NotifyChargingLimit / ClearedChargingLimit keep the limits set outside the
CSMS; NotifyEVChargingNeeds / NotifyEVChargingSchedule keep what an EV asked
for on its session. All are only recorded, to show operators.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from ocpp.v201.enums import Action

from stations.services.charging_limits import (
    ChargingNeeds,
    ev_charging_needs_record,
    ev_charging_schedule_record,
    external_charging_limit_clear,
    external_charging_limit_set,
)
from stations.services.smart_charging import charging_profiles_reported
from stations.timestamps import parse_ocpp_datetime

from ...commands.profiles import optional_datetime
from ...commands.profiles_201 import charging_profile_from_201
from ...handlers import Session
from ..registry import handles

# NotifyEVChargingNeeds: "Accepted" promises the EV a schedule from the CSMS
# shortly, "Processing" that one is being worked out. We compute none (an
# operator may still send a TxProfile), so the honest answer is "Rejected":
# the station goes on with the profiles it has. The needs are recorded anyway.
EV_CHARGING_NEEDS_ANSWER = "Rejected"
STATION = 0  # our connector id of the whole station (no evseId)


@handles(Action.report_charging_profiles)
async def report_charging_profiles(session: Session, payload: dict) -> dict:
    await database_sync_to_async(charging_profiles_reported)(
        charge_point_pk=session.charge_point.pk,
        connector_id=payload["evseId"],
        limit_source=payload["chargingLimitSource"],
        profiles=[charging_profile_from_201(profile) for profile in payload["chargingProfile"]],
    )
    return {}


@handles(Action.notify_charging_limit)
async def notify_charging_limit(session: Session, payload: dict) -> dict:
    limit = payload["chargingLimit"]
    await database_sync_to_async(external_charging_limit_set)(
        charge_point_pk=session.charge_point.pk,
        connector_id=payload.get("evseId", STATION),
        source=limit["chargingLimitSource"],
        is_grid_critical=limit.get("isGridCritical"),
        schedule=payload.get("chargingSchedule"),
    )
    return {}


@handles(Action.cleared_charging_limit)
async def cleared_charging_limit(session: Session, payload: dict) -> dict:
    await database_sync_to_async(external_charging_limit_clear)(
        charge_point_pk=session.charge_point.pk,
        source=payload["chargingLimitSource"],
        connector_id=payload.get("evseId"),
    )
    return {}


@handles(Action.notify_ev_charging_needs)
async def notify_ev_charging_needs(session: Session, payload: dict) -> dict:
    needs = payload["chargingNeeds"]
    await database_sync_to_async(ev_charging_needs_record)(
        charge_point_pk=session.charge_point.pk,
        connector_id=payload["evseId"],
        needs=ChargingNeeds(
            requested_energy_transfer=needs["requestedEnergyTransfer"],
            departure_time=optional_datetime(needs.get("departureTime")),
            max_schedule_tuples=payload.get("maxScheduleTuples"),
            parameters=needs,
        ),
    )
    return {"status": EV_CHARGING_NEEDS_ANSWER}


@handles(Action.notify_ev_charging_schedule)
async def notify_ev_charging_schedule(session: Session, payload: dict) -> dict:
    await database_sync_to_async(ev_charging_schedule_record)(
        charge_point_pk=session.charge_point.pk,
        connector_id=payload["evseId"],
        time_base=parse_ocpp_datetime(payload["timeBase"]),
        schedule=payload["chargingSchedule"],
    )
    return {"status": "Accepted"}

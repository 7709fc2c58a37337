"""What the answers to 2.0.1 smart charging commands change (registered in actions_201).

The same records as 1.6 (commands.answers): an accepted SetChargingProfile
installs the profile on its EVSE (our connector; 0 = the whole station), an
accepted ClearChargingProfile clears what it names, a composite schedule is
kept to show. Profiles the station reports after GetChargingProfiles come
with ReportChargingProfiles (handlers.smart_charging).
"""

from __future__ import annotations

from stations.services.smart_charging import (
    charging_profile_install,
    charging_profiles_clear,
    composite_schedule_record,
)

from ..commands.actions_201 import applies_answer
from ..commands.profiles import optional_datetime
from ..commands.profiles_201 import charging_profile_from_201, purpose_from_201

ACCEPTED = "Accepted"


@applies_answer("SetChargingProfile")
def profile_set(*, charge_point_pk: int, request: dict, response: dict) -> None:
    if response["status"] == ACCEPTED:
        charging_profile_install(
            charge_point_pk=charge_point_pk,
            connector_id=request["evseId"],
            profile=charging_profile_from_201(request["chargingProfile"]),
        )


def _clear(*, charge_point_pk: int, criteria: dict, profile_id: int | None = None) -> None:
    purpose = criteria.get("chargingProfilePurpose")
    charging_profiles_clear(
        charge_point_pk=charge_point_pk,
        charging_profile_id=profile_id,
        connector_id=criteria.get("evseId"),
        purpose=purpose_from_201(purpose) if purpose else None,
        stack_level=criteria.get("stackLevel"),
    )


@applies_answer("ClearChargingProfile")
def profiles_cleared(*, charge_point_pk: int, request: dict, response: dict) -> None:
    """Accepted: the profile named by id, else those matching every criterion, are gone."""
    if response["status"] != ACCEPTED:
        return
    if "chargingProfileId" in request:
        _clear(
            charge_point_pk=charge_point_pk, criteria={}, profile_id=request["chargingProfileId"]
        )
    else:
        _clear(charge_point_pk=charge_point_pk, criteria=request.get("chargingProfileCriteria", {}))


@applies_answer("GetChargingProfiles")
def profiles_asked(*, charge_point_pk: int, request: dict, response: dict) -> None:
    """NoProfiles: none of ours matching the question is installed any more.

    Only asked by EVSE, purpose and stack level can it be matched on our
    records exactly (we keep no source for a list of ids to match); an
    Accepted answer is followed by ReportChargingProfiles.
    """
    criteria = request["chargingProfile"]
    if response["status"] != "NoProfiles" or set(criteria) - {
        "chargingProfilePurpose",
        "stackLevel",
    }:
        return
    _clear(charge_point_pk=charge_point_pk, criteria={**criteria, "evseId": request.get("evseId")})


@applies_answer("GetCompositeSchedule")
def composite_schedule(*, charge_point_pk: int, request: dict, response: dict) -> None:
    schedule = response.get("schedule") if response["status"] == ACCEPTED else None
    composite_schedule_record(
        charge_point_pk=charge_point_pk,
        connector_id=request["evseId"],
        schedule_start=optional_datetime(schedule["scheduleStart"]) if schedule else None,
        schedule=schedule,
    )

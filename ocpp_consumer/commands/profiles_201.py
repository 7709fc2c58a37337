"""OCPP 2.0.1 charging profiles (camelCase dicts) <-> the domain's ChargingProfileSpec.

The domain keeps one record of a profile whatever the version that set it;
2.0.1 differs from 1.6 by names (ChargingStationMaxProfile, `id`, `evseId`),
a string transactionId (the charger's, kept as `charger_transaction_id`) and
a list of schedules, of which the first is the profile's (the others exist
only for ISO 15118 schedule choice, and are not recorded).
"""

from __future__ import annotations

from decimal import Decimal

from stations.services.smart_charging import (
    CHARGE_POINT_MAX,
    EXTERNAL_CONSTRAINTS,
    PART_CONNECTOR,
    PART_PERIODS,
    PART_PURPOSE,
    PART_RECURRENCY,
    PART_TRANSACTION,
    ChargingProfileSpec,
    SchedulePeriod,
    charging_profile_problems,
)

from .profiles import optional_datetime

SET_PROFILE = "SetChargingProfile"
STATION_MAX = "ChargingStationMaxProfile"
STATION_EXTERNAL_CONSTRAINTS = "ChargingStationExternalConstraints"
# 2.0.1 purpose -> the domain's (1.6's) name; the others are the same in both.
_PURPOSE_FROM_201 = {
    STATION_MAX: CHARGE_POINT_MAX,
    STATION_EXTERNAL_CONSTRAINTS: EXTERNAL_CONSTRAINTS,
}
_PURPOSE_TO_201 = {neutral: name for name, neutral in _PURPOSE_FROM_201.items()}


def purpose_from_201(purpose: str) -> str:
    return _PURPOSE_FROM_201.get(purpose, purpose)


def charging_profile_from_201(profile: dict) -> ChargingProfileSpec:
    """Read a schema-valid 2.0.1 ChargingProfile (its dates are then parseable)."""
    schedule = profile["chargingSchedule"][0]
    return ChargingProfileSpec(
        charging_profile_id=profile["id"],
        stack_level=profile["stackLevel"],
        purpose=purpose_from_201(profile["chargingProfilePurpose"]),
        kind=profile["chargingProfileKind"],
        charging_rate_unit=schedule["chargingRateUnit"],
        periods=tuple(
            SchedulePeriod(
                start_period=period["startPeriod"],
                limit=_decimal(period["limit"]),
                number_phases=period.get("numberPhases"),
            )
            for period in schedule["chargingSchedulePeriod"]
        ),
        charger_transaction_id=profile.get("transactionId"),
        recurrency_kind=profile.get("recurrencyKind", ""),
        valid_from=optional_datetime(profile.get("validFrom")),
        valid_to=optional_datetime(profile.get("validTo")),
        duration=schedule.get("duration"),
        start_schedule=optional_datetime(schedule.get("startSchedule")),
        min_charging_rate=_decimal(schedule.get("minChargingRate")),
    )


def _decimal(value) -> Decimal | None:
    # Through str: a JSON float such as 21.4 is stored as 21.4, not its binary value.
    return None if value is None else Decimal(str(value))


def _number(value):
    """A Decimal as the JSON number it came from (an int when whole)."""
    return int(value) if value == value.to_integral_value() else float(value)


def _timestamp(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


def charging_profile_to_201(
    profile: ChargingProfileSpec, *, schedule_id: int | None = None
) -> dict:
    """The 2.0.1 ChargingProfile of a spec; its one schedule's id defaults to the profile's."""
    periods = []
    for period in profile.periods:
        entry = {"startPeriod": period.start_period, "limit": _number(period.limit)}
        if period.number_phases is not None:
            entry["numberPhases"] = period.number_phases
        periods.append(entry)
    schedule = {
        "id": profile.charging_profile_id if schedule_id is None else schedule_id,
        "chargingRateUnit": profile.charging_rate_unit,
        "chargingSchedulePeriod": periods,
    }
    if profile.start_schedule is not None:
        schedule["startSchedule"] = _timestamp(profile.start_schedule)
    if profile.duration is not None:
        schedule["duration"] = profile.duration
    if profile.min_charging_rate is not None:
        schedule["minChargingRate"] = _number(profile.min_charging_rate)
    payload = {
        "id": profile.charging_profile_id,
        "stackLevel": profile.stack_level,
        "chargingProfilePurpose": _PURPOSE_TO_201.get(profile.purpose, profile.purpose),
        "chargingProfileKind": profile.kind,
        "chargingSchedule": [schedule],
    }
    if profile.recurrency_kind:
        payload["recurrencyKind"] = profile.recurrency_kind
    if profile.valid_from is not None:
        payload["validFrom"] = _timestamp(profile.valid_from)
    if profile.valid_to is not None:
        payload["validTo"] = _timestamp(profile.valid_to)
    if profile.charger_transaction_id:
        payload["transactionId"] = profile.charger_transaction_id
    return payload


# The domain's rule parts -> the API's field paths in a SetChargingProfile body.
_FIELDS = {
    PART_CONNECTOR: "evse_id",
    PART_PURPOSE: "charging_profile.charging_profile_purpose",
    PART_TRANSACTION: "charging_profile.transaction_id",
    PART_RECURRENCY: "charging_profile.recurrency_kind",
    PART_PERIODS: "charging_profile.charging_schedule.charging_schedule_period",
}


def set_charging_profile_problems(payload: dict) -> list[str]:
    """The domain's rules for a schema-valid 2.0.1 SetChargingProfile, by field path."""
    problems = charging_profile_problems(
        profile=charging_profile_from_201(payload["chargingProfile"]),
        connector_id=payload["evseId"],
    )
    return [f"{_FIELDS[problem.part]}: {problem.message}" for problem in problems]

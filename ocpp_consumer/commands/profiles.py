"""OCPP charging profiles (camelCase dicts) as the stations domain's ChargingProfileSpec."""

from __future__ import annotations

from decimal import Decimal

from stations.services.smart_charging import ChargingProfileSpec, SchedulePeriod
from stations.timestamps import parse_ocpp_datetime


def charging_profile_from_ocpp(profile: dict) -> ChargingProfileSpec:
    """Read a schema-valid OCPP ChargingProfile (its dates are then parseable)."""
    schedule = profile["chargingSchedule"]
    return ChargingProfileSpec(
        charging_profile_id=profile["chargingProfileId"],
        stack_level=profile["stackLevel"],
        purpose=profile["chargingProfilePurpose"],
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
        transaction_id=profile.get("transactionId"),
        recurrency_kind=profile.get("recurrencyKind", ""),
        valid_from=optional_datetime(profile.get("validFrom")),
        valid_to=optional_datetime(profile.get("validTo")),
        duration=schedule.get("duration"),
        start_schedule=optional_datetime(schedule.get("startSchedule")),
        min_charging_rate=_decimal(schedule.get("minChargingRate")),
    )


def optional_datetime(value: str | None):
    return parse_ocpp_datetime(value) if value else None


def _decimal(value) -> Decimal | None:
    # Through str: a JSON float such as 21.4 is stored as 21.4, not its binary value.
    return None if value is None else Decimal(str(value))

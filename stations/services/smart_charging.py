"""Smart charging: what a valid profile is, and what accepted answers install."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import ChargingProfile, ChargingSchedulePeriod, CompositeSchedule
from ..timestamps import parse_ocpp_datetime
from .answers import applies_to

CHARGE_POINT_MAX = "ChargePointMaxProfile"
TX_DEFAULT = "TxDefaultProfile"
TX_PROFILE = "TxProfile"


def charging_profile_problems(*, action: str, payload: dict) -> list[str]:
    """Rules of OCPP 1.6 §3.13 the JSON schema cannot express; [] when valid."""
    if action == "SetChargingProfile":
        profile, connector_id = payload["csChargingProfiles"], payload["connectorId"]
        where = "cs_charging_profiles"
    elif action == "RemoteStartTransaction" and "chargingProfile" in payload:
        profile, connector_id = payload["chargingProfile"], payload.get("connectorId")
        where = "charging_profile"
        if profile["chargingProfilePurpose"] != TX_PROFILE:
            return [f"{where}.charging_profile_purpose: a remote start takes a TxProfile"]
    else:
        return []
    problems = []
    purpose = profile["chargingProfilePurpose"]
    if purpose == CHARGE_POINT_MAX and connector_id != 0:
        problems.append("connector_id: a ChargePointMaxProfile applies to connector 0")
    if purpose == TX_PROFILE and action == "SetChargingProfile":
        if connector_id == 0:
            problems.append("connector_id: a TxProfile needs a connector, not 0")
        if "transactionId" not in profile:
            problems.append(f"{where}.transaction_id: a TxProfile names its transaction")
    if profile["chargingProfileKind"] == "Recurring" and "recurrencyKind" not in profile:
        problems.append(f"{where}.recurrency_kind: required for a Recurring profile")
    starts = [p["startPeriod"] for p in profile["chargingSchedule"]["chargingSchedulePeriod"]]
    if not starts or starts[0] != 0:
        problems.append(f"{where}.charging_schedule.charging_schedule_period: must start at 0")
    if any(later <= earlier for earlier, later in zip(starts, starts[1:], strict=False)):
        problems.append(
            f"{where}.charging_schedule.charging_schedule_period: start periods must increase"
        )
    return problems


@transaction.atomic
def charging_profile_install(*, charge_point_pk: int, connector_id: int, profile: dict) -> None:
    """Record a profile the charge point accepted; it replaces the one it overrides."""
    now = timezone.now()
    ChargingProfile.objects.filter(
        Q(charging_profile_id=profile["chargingProfileId"])
        | Q(
            connector_id=connector_id,
            stack_level=profile["stackLevel"],
            purpose=profile["chargingProfilePurpose"],
        ),
        charge_point_id=charge_point_pk,
        cleared_at__isnull=True,
    ).update(cleared_at=now)
    schedule = profile["chargingSchedule"]
    installed = ChargingProfile.objects.create(
        charge_point_id=charge_point_pk,
        connector_id=connector_id,
        charging_profile_id=profile["chargingProfileId"],
        transaction_id=profile.get("transactionId"),
        stack_level=profile["stackLevel"],
        purpose=profile["chargingProfilePurpose"],
        kind=profile["chargingProfileKind"],
        recurrency_kind=profile.get("recurrencyKind", ""),
        valid_from=_datetime(profile.get("validFrom")),
        valid_to=_datetime(profile.get("validTo")),
        charging_rate_unit=schedule["chargingRateUnit"],
        duration=schedule.get("duration"),
        start_schedule=_datetime(schedule.get("startSchedule")),
        min_charging_rate=_decimal(schedule.get("minChargingRate")),
    )
    ChargingSchedulePeriod.objects.bulk_create(
        ChargingSchedulePeriod(
            profile=installed,
            start_period=period["startPeriod"],
            limit=_decimal(period["limit"]),
            number_phases=period.get("numberPhases"),
        )
        for period in schedule["chargingSchedulePeriod"]
    )


def _datetime(value):
    return parse_ocpp_datetime(value) if value else None


def _decimal(value):
    return None if value is None else Decimal(str(value))


@applies_to("SetChargingProfile")
def _profile_set(*, charge_point_pk: int, request: dict, response: dict) -> None:
    if response.get("status") == "Accepted":
        charging_profile_install(
            charge_point_pk=charge_point_pk,
            connector_id=request["connectorId"],
            profile=request["csChargingProfiles"],
        )


@applies_to("RemoteStartTransaction")
def _remote_start_profile(*, charge_point_pk: int, request: dict, response: dict) -> None:
    if response.get("status") == "Accepted" and "chargingProfile" in request:
        charging_profile_install(
            charge_point_pk=charge_point_pk,
            connector_id=request.get("connectorId", 0),
            profile=request["chargingProfile"],
        )


@applies_to("ClearChargingProfile")
def _profiles_cleared(*, charge_point_pk: int, request: dict, response: dict) -> None:
    if response.get("status") != "Accepted":
        return
    criteria = Q()
    for field, name in (
        ("charging_profile_id", "id"),
        ("connector_id", "connectorId"),
        ("purpose", "chargingProfilePurpose"),
        ("stack_level", "stackLevel"),
    ):
        if name in request:
            criteria &= Q(**{field: request[name]})
    ChargingProfile.objects.filter(
        criteria, charge_point_id=charge_point_pk, cleared_at__isnull=True
    ).update(cleared_at=timezone.now())


@applies_to("GetCompositeSchedule")
def _composite_schedule(*, charge_point_pk: int, request: dict, response: dict) -> None:
    accepted = response.get("status") == "Accepted"
    CompositeSchedule.objects.update_or_create(
        charge_point_id=charge_point_pk,
        connector_id=request["connectorId"],
        defaults={
            "schedule_start": _datetime(response.get("scheduleStart")) if accepted else None,
            "schedule": response.get("chargingSchedule") if accepted else None,
        },
    )

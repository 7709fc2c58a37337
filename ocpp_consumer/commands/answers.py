"""What an answered command changes in our records: one entry per action.

Each entry translates the OCPP request and answer (camelCase dicts) into a
call of the domain service that owns the state, with neutral arguments.
Actions not in ANSWER_APPLIERS change nothing but the Command row. The
consumer calls `command_answer_apply` once the answer passed its schema.
"""

from __future__ import annotations

from collections.abc import Callable

from stations.models import ReservationStatus
from stations.services.configuration import (
    ConfigurationValue,
    configuration_key_changed,
    configuration_keys_record,
)
from stations.services.reservations import reservation_answered, reservation_cancelled
from stations.services.smart_charging import (
    charging_profile_install,
    charging_profiles_clear,
    composite_schedule_record,
)
from stations.timestamps import parse_ocpp_datetime

from ..framing import V16, V201
from ..local_lists import local_list_version_answered, send_local_list_answered
from .actions_201 import ANSWER_APPLIERS as ANSWER_APPLIERS_201
from .profiles import charging_profile_from_ocpp, optional_datetime

ACCEPTED = "Accepted"
# Called as applier(charge_point_pk=..., request=CALL payload, response=CALLRESULT payload).
AnswerApplier = Callable[..., None]


def _configuration_reported(*, charge_point_pk: int, request: dict, response: dict) -> None:
    configuration_keys_record(
        charge_point_pk=charge_point_pk,
        keys=[
            ConfigurationValue(
                key=item["key"], value=item.get("value"), readonly=item.get("readonly", False)
            )
            for item in response.get("configurationKey") or ()
        ],
        unknown_keys=response.get("unknownKey") or (),
    )


def _configuration_changed(*, charge_point_pk: int, request: dict, response: dict) -> None:
    if response.get("status") in (ACCEPTED, "RebootRequired"):
        configuration_key_changed(
            charge_point_pk=charge_point_pk, key=request["key"], value=request["value"]
        )


# ReserveNow answer status -> our reservation status.
_RESERVATION_STATUS = {
    ACCEPTED: ReservationStatus.ACCEPTED,
    "Faulted": ReservationStatus.FAULTED,
    "Occupied": ReservationStatus.OCCUPIED,
    "Rejected": ReservationStatus.REJECTED,
    "Unavailable": ReservationStatus.UNAVAILABLE,
}


def _reservation_answered(*, charge_point_pk: int, request: dict, response: dict) -> None:
    reservation_answered(
        charge_point_pk=charge_point_pk,
        reservation_id=request["reservationId"],
        connector_id=request["connectorId"],
        id_tag=request["idTag"],
        parent_id_tag=request.get("parentIdTag", ""),
        expiry_date=parse_ocpp_datetime(request["expiryDate"]),
        status=_RESERVATION_STATUS[response["status"]],
    )


def _reservation_cancelled(*, charge_point_pk: int, request: dict, response: dict) -> None:
    if response.get("status") == ACCEPTED:
        reservation_cancelled(
            charge_point_pk=charge_point_pk, reservation_id=request["reservationId"]
        )


def _profile_set(*, charge_point_pk: int, request: dict, response: dict) -> None:
    if response.get("status") == ACCEPTED:
        charging_profile_install(
            charge_point_pk=charge_point_pk,
            connector_id=request["connectorId"],
            profile=charging_profile_from_ocpp(request["csChargingProfiles"]),
        )


def _remote_start_profile(*, charge_point_pk: int, request: dict, response: dict) -> None:
    if response.get("status") == ACCEPTED and "chargingProfile" in request:
        charging_profile_install(
            charge_point_pk=charge_point_pk,
            connector_id=request.get("connectorId", 0),
            profile=charging_profile_from_ocpp(request["chargingProfile"]),
        )


def _profiles_cleared(*, charge_point_pk: int, request: dict, response: dict) -> None:
    if response.get("status") == ACCEPTED:
        charging_profiles_clear(
            charge_point_pk=charge_point_pk,
            charging_profile_id=request.get("id"),
            connector_id=request.get("connectorId"),
            purpose=request.get("chargingProfilePurpose"),
            stack_level=request.get("stackLevel"),
        )


def _composite_schedule(*, charge_point_pk: int, request: dict, response: dict) -> None:
    accepted = response.get("status") == ACCEPTED
    composite_schedule_record(
        charge_point_pk=charge_point_pk,
        connector_id=request["connectorId"],
        schedule_start=optional_datetime(response.get("scheduleStart")) if accepted else None,
        schedule=response.get("chargingSchedule") if accepted else None,
    )


ANSWER_APPLIERS: dict[str, AnswerApplier] = {
    "GetConfiguration": _configuration_reported,
    "ChangeConfiguration": _configuration_changed,
    "ReserveNow": _reservation_answered,
    "CancelReservation": _reservation_cancelled,
    "SetChargingProfile": _profile_set,
    "RemoteStartTransaction": _remote_start_profile,
    "ClearChargingProfile": _profiles_cleared,
    "GetCompositeSchedule": _composite_schedule,
    "SendLocalList": send_local_list_answered,
    "GetLocalListVersion": local_list_version_answered,
}


def command_answer_applies(*, action: str, version: str = V16) -> bool:
    """Whether an answer to this action changes more than the Command row."""
    return action in (ANSWER_APPLIERS_201 if version == V201 else ANSWER_APPLIERS)


def command_answer_apply(
    *, charge_point_pk: int, action: str, request: dict, response: dict, version: str = V16
) -> None:
    """Record the effect of an answered command (a no-op for most actions)."""
    appliers = ANSWER_APPLIERS_201 if version == V201 else ANSWER_APPLIERS
    applier = appliers.get(action)
    if applier is not None:
        applier(charge_point_pk=charge_point_pk, request=request, response=response)

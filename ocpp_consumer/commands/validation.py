"""What a valid command is: a Central System action, its schema, and the domain's rules.

Validated once, by `command_send`, before anything is recorded; the API
turns an InvalidPayload into its 400 naming the field.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from stations.models import validate_charge_point_password
from stations.services.security import AUTHORIZATION_KEY
from stations.services.smart_charging import (
    PART_CONNECTOR,
    PART_PERIODS,
    PART_PURPOSE,
    PART_RECURRENCY,
    PART_TRANSACTION,
    charging_profile_problems,
)

from .. import errors, framing
from .actions_201 import CSMS_ACTIONS as CSMS_ACTIONS_201
from .exceptions import InvalidPayload, UnknownAction
from .profiles import charging_profile_from_ocpp
from .profiles_201 import SET_PROFILE, set_charging_profile_problems

# The OCPP 1.6 actions a Central System sends (six profiles + security extension).
CS_TO_CP_ACTIONS = frozenset(
    {
        # Core
        "ChangeAvailability",
        "ChangeConfiguration",
        "ClearCache",
        "DataTransfer",
        "GetConfiguration",
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "Reset",
        "UnlockConnector",
        # Firmware Management
        "GetDiagnostics",
        "UpdateFirmware",
        # Local Auth List Management
        "GetLocalListVersion",
        "SendLocalList",
        # Reservation
        "CancelReservation",
        "ReserveNow",
        # Smart Charging
        "ClearChargingProfile",
        "GetCompositeSchedule",
        "SetChargingProfile",
        # Remote Trigger
        "TriggerMessage",
        # Security extension (OCPP 1.6 security whitepaper)
        "CertificateSigned",
        "DeleteCertificate",
        "ExtendedTriggerMessage",
        "GetInstalledCertificateIds",
        "GetLog",
        "InstallCertificate",
        "SignedUpdateFirmware",
    }
)


def command_actions(version: str) -> frozenset[str]:
    """The commands a CSMS may send a charge point speaking that OCPP version."""
    return CSMS_ACTIONS_201 if version == framing.V201 else CS_TO_CP_ACTIONS


def command_validate(*, action: str, payload: dict, version: str = framing.V16) -> None:
    """Raise UnknownAction or InvalidPayload unless the CALL would be valid in that version."""
    if action not in command_actions(version):
        raise UnknownAction(
            f"{action} is not an OCPP {version} command (the charge point speaks OCPP {version})"
        )
    try:
        framing.validate_request(action, payload, version)
    except errors.OCPPError as exc:
        raise InvalidPayload(exc.description) from exc
    blank = _blank_id_token_problems(action=action, payload=payload)
    if blank:
        raise InvalidPayload("; ".join(blank))
    if version != framing.V16:
        problems_201 = set_charging_profile_problems(payload) if action == SET_PROFILE else []
        if problems_201:
            raise InvalidPayload("; ".join(problems_201))
        return
    problems = _profile_problems(action=action, payload=payload)
    problems += _authorization_key_problems(action=action, payload=payload)
    if problems:
        raise InvalidPayload("; ".join(problems))


# The requests that name the driver's id tag: a blank one passes the schema
# but starts (or reserves for) nobody. 1.6 has an idTag, 2.0.1 an idToken.
_ID_TAG_ACTIONS = frozenset({"RemoteStartTransaction", "ReserveNow"})
_ID_TOKEN_ACTIONS = frozenset({"RequestStartTransaction", "ReserveNow"})
# OCPP 2.0.1 IdTokenEnumType: with NoAuthorization the idToken is left empty.
_NO_AUTHORIZATION = "NoAuthorization"


def _blank_id_token_problems(*, action: str, payload: dict) -> list[str]:
    """Refuse an empty or all-blank idTag / idToken.idToken (after the schema passed)."""
    id_tag = payload.get("idTag") if action in _ID_TAG_ACTIONS else None
    if isinstance(id_tag, str) and not id_tag.strip():
        return ["idTag: This field may not be blank."]
    token = payload.get("idToken") if action in _ID_TOKEN_ACTIONS else None
    if (
        isinstance(token, dict)
        and isinstance(token.get("idToken"), str)
        and not token["idToken"].strip()
        and token.get("type") != _NO_AUTHORIZATION
    ):
        return ["idToken/idToken: This field may not be blank."]
    return []


def _authorization_key_problems(*, action: str, payload: dict) -> list[str]:
    """A new AuthorizationKey must be a password we can store (the model's limits)."""
    if action != "ChangeConfiguration" or payload.get("key") != AUTHORIZATION_KEY:
        return []
    try:
        validate_charge_point_password(payload["value"])
    except ValidationError as exc:
        return [f"value: {message}" for message in exc.messages]
    return []


def _profile_problems(*, action: str, payload: dict) -> list[str]:
    """The domain's charging profile rules, each named by the request's field path."""
    if action == "SetChargingProfile":
        where, profile = "cs_charging_profiles", payload["csChargingProfiles"]
    elif action == "RemoteStartTransaction" and "chargingProfile" in payload:
        where, profile = "charging_profile", payload["chargingProfile"]
    else:
        return []
    fields = {
        PART_CONNECTOR: "connector_id",
        PART_PURPOSE: f"{where}.charging_profile_purpose",
        PART_TRANSACTION: f"{where}.transaction_id",
        PART_RECURRENCY: f"{where}.recurrency_kind",
        PART_PERIODS: f"{where}.charging_schedule.charging_schedule_period",
    }
    problems = charging_profile_problems(
        profile=charging_profile_from_ocpp(profile),
        connector_id=payload.get("connectorId"),
        remote_start=action == "RemoteStartTransaction",
    )
    return [f"{fields[problem.part]}: {problem.message}" for problem in problems]

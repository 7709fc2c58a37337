"""The Commands module, CPO side (Receiver): a partner's eMSP remotely starts and stops sessions.

A command is answered at once with a CommandResponse, from what our
database knows: the command and its fields, the partner's token, the
Location/EVSE (roaming.locations' ids: the station and connector keys),
the session, whether the charger is connected. An accepted command goes to
the charger in a Celery task through the project's command path (the OCPP
action of the charger's version), and the charger's answer is POSTed to
the partner's response_url as a CommandResult (roaming.tasks retries that
POST while the partner fails).

RESERVE_NOW and CANCEL_RESERVATION are answered NOT_SUPPORTED: the spec
forbids passing the partner's reservation id to the charger, and we keep
no mapping of theirs to ours yet.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from django.conf import settings

from monitoring.liveness import chargepoint_reachable
from ocpp_consumer.commands import (
    ChargePointNotFound,
    ChargePointOffline,
    CommandError,
    CommandsUnavailable,
    CommandTimeout,
    command_send_sync,
)
from ocpp_consumer.models import CommandStatus
from stations.choices import OcppVersion, RegistrationStatus, SessionStatus
from stations.models import ChargePoint, Connector, Transaction

from .choices import PartyStatus
from .client import ocpi_call
from .credential_tokens import token_decrypt
from .locations import location_queryset
from .models import Party, RoamingToken

COMMAND_TYPES = frozenset(
    {"CANCEL_RESERVATION", "RESERVE_NOW", "START_SESSION", "STOP_SESSION", "UNLOCK_CONNECTOR"}
)
EXECUTED = frozenset({"START_SESSION", "STOP_SESSION", "UNLOCK_CONNECTOR"})

# What the eMSP waits for the CommandResult beyond the charger's own answer
# time: the task's queue and the POST to the partner.
RESULT_MARGIN_SECONDS = 30

# The charger's answer (1.6 and 2.0.1 status values) as an OCPI CommandResultType.
CHARGER_STATUS_RESULTS = {
    "Accepted": "ACCEPTED",
    "Rejected": "REJECTED",
    "Unlocked": "ACCEPTED",
    "UnlockFailed": "FAILED",
    "NotSupported": "NOT_SUPPORTED",
    "OngoingAuthorizedTransaction": "EVSE_OCCUPIED",
    "UnknownConnector": "REJECTED",
}


class CommandInvalid(ValueError):
    """The request body is not the command's object; the message names the field."""


class CommandRefused(Exception):
    """Answered at once with this CommandResponse result (not ACCEPTED).

    unknown_location: OCPI's 2003 in the envelope, as the spec's example shows.
    """

    def __init__(self, result: str, message: str, *, unknown_location: bool = False):
        super().__init__(message)
        self.result = result
        self.message = message
        self.unknown_location = unknown_location


@dataclass(frozen=True)
class CommandPlan:
    """An accepted command: what to send where, and where the result goes."""

    party_pk: int
    command: str
    response_url: str
    charge_point_id: str
    action: str
    payload: dict

    def as_task_args(self) -> dict:
        return asdict(self)


def command_timeout_seconds() -> int:
    return math.ceil(settings.OCPP_CALL_TIMEOUT) + RESULT_MARGIN_SECONDS


def command_response(result: str, message: str = "") -> dict:
    body = {"result": result, "timeout": command_timeout_seconds()}
    if message:
        body["message"] = [{"language": "en", "text": message[:512]}]
    return body


def command_plan(*, party: Party, command: str, body) -> CommandPlan:
    """Check a partner's command; raises CommandInvalid or CommandRefused."""
    if command not in COMMAND_TYPES:
        raise CommandInvalid(f"command: one of {', '.join(sorted(COMMAND_TYPES))}")
    if not isinstance(body, dict):
        raise CommandInvalid("body: give the command's object")
    response_url = _string(body, "response_url", 255)
    if not response_url.lower().startswith(("https://", "http://")):
        raise CommandInvalid("response_url: an http(s) URL")
    if command not in EXECUTED:
        raise CommandRefused("NOT_SUPPORTED", "Reservations are not offered by this CPO")
    if command == "START_SESSION":
        charge_point, action, payload = _start_session(party, body)
    elif command == "STOP_SESSION":
        charge_point, action, payload = _stop_session(party, body)
    else:
        charge_point, action, payload = _unlock_connector(body)
    if not chargepoint_reachable(charge_point=charge_point):
        raise CommandRefused("REJECTED", "The charger is offline")
    return CommandPlan(
        party_pk=party.pk,
        command=command,
        response_url=response_url,
        charge_point_id=charge_point.charge_point_id,
        action=action,
        payload=payload,
    )


def _string(body: dict, name: str, max_length: int = 36, *, required: bool = True) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise CommandInvalid(f"{name}: a string of 1 to {max_length} characters")
    return value


def _start_session(party: Party, body: dict) -> tuple[ChargePoint, str, dict]:
    token_data = body.get("token")
    if not isinstance(token_data, dict):
        raise CommandInvalid("token: give the Token object")
    identity = {name: _string(token_data, name) for name in ("country_code", "party_id", "uid")}
    token_type = _string(token_data, "type", 20)
    token = (
        RoamingToken.objects.select_related("id_tag")
        .filter(
            partner=party,
            country_code__iexact=identity["country_code"],
            party_id__iexact=identity["party_id"],
            uid=identity["uid"],
            type=token_type,
        )
        .first()
    )
    # Our chargers authorize id tags: only a token pushed with the Tokens module has one.
    if token is None:
        raise CommandRefused("REJECTED", "Unknown token: push it with the Tokens module first")
    if token.id_tag is None:
        raise CommandRefused(
            "REJECTED", f"The token cannot be used at our chargers: {token.mirror_problem}"
        )
    connector = _connector(
        body, evse_required=False, connector_id=_string(body, "connector_id", required=False)
    )
    charge_point = connector.charge_point
    id_tag = token.id_tag.id_tag
    if charge_point.ocpp_version == OcppVersion.V201:
        id_token_type = "ISO14443" if token.type == "RFID" else "Central"
        payload = {
            "idToken": {"idToken": id_tag, "type": id_token_type},
            "evseId": connector.connector_id,
        }
        return charge_point, "RequestStartTransaction", payload
    return (
        charge_point,
        "RemoteStartTransaction",
        {"connectorId": connector.connector_id, "idTag": id_tag},
    )


def _stop_session(party: Party, body: dict) -> tuple[ChargePoint, str, dict]:
    session_id = _string(body, "session_id")
    # Our OCPI session id is our transaction id; another partner's session is unknown here.
    running = None
    if session_id.isdigit() and len(session_id) < 10:
        running = (
            Transaction.objects.select_related("charge_point")
            .filter(
                pk=int(session_id),
                status=SessionStatus.RUNNING,
                tag__roaming_token__partner=party,
            )
            .first()
        )
    if running is None:
        raise CommandRefused("UNKNOWN_SESSION", f"No running session {session_id} of yours")
    charge_point = running.charge_point
    if charge_point.ocpp_version == OcppVersion.V201:
        if not running.ocpp_transaction_id:
            raise CommandRefused("REJECTED", "The charger has not named this session yet")
        return (
            charge_point,
            "RequestStopTransaction",
            {"transactionId": running.ocpp_transaction_id},
        )
    return charge_point, "RemoteStopTransaction", {"transactionId": running.pk}


def _unlock_connector(body: dict) -> tuple[ChargePoint, str, dict]:
    connector = _connector(body, evse_required=True, connector_id=_string(body, "connector_id"))
    charge_point = connector.charge_point
    if charge_point.ocpp_version == OcppVersion.V201:
        # Our EVSE is the 2.0.1 EVSE, with its one connector (stations.locations).
        return charge_point, "UnlockConnector", {"evseId": connector.connector_id, "connectorId": 1}
    return charge_point, "UnlockConnector", {"connectorId": connector.connector_id}


def _connector(body: dict, *, evse_required: bool, connector_id: str) -> Connector:
    """The connector a Location/EVSE (/Connector) of ours names; CommandRefused when none."""
    location_id = _string(body, "location_id")
    evse_uid = _string(body, "evse_uid", required=evse_required)
    if connector_id and not evse_uid:
        raise CommandInvalid("evse_uid: required with connector_id")
    published = location_id.isdigit() and len(location_id) < 10
    if published:
        published = location_queryset().filter(pk=int(location_id)).exists()
    if not published:
        raise CommandRefused("REJECTED", f"Unknown location {location_id}", unknown_location=True)
    connectors = Connector.objects.select_related("charge_point").filter(
        charge_point__station_id=int(location_id),
        charge_point__registration_status=RegistrationStatus.ACCEPTED,
        connector_id__gt=0,
    )
    if evse_uid:
        found = evse_uid.isdigit() and len(evse_uid) < 10
        connectors = connectors.filter(pk=int(evse_uid)) if found else connectors.none()
    candidates = list(connectors[:2])
    if not candidates:
        raise CommandRefused("REJECTED", f"Unknown EVSE {evse_uid}", unknown_location=True)
    if len(candidates) > 1:
        raise CommandRefused("REJECTED", "evse_uid: this location has several EVSEs, name one")
    connector = candidates[0]
    if connector_id:
        # stations.locations: 2.0.1 EVSEs have connector "1", 1.6 ones their OCPP connector id.
        ours = "1" if connector.charge_point.ocpp_version == OcppVersion.V201 else None
        if connector_id != (ours or str(connector.connector_id)):
            raise CommandRefused(
                "REJECTED", f"Unknown connector {connector_id}", unknown_location=True
            )
    return connector


def command_execute(plan: CommandPlan) -> dict:
    """Send the command to the charger; the CommandResult its answer makes."""
    try:
        command = command_send_sync(
            charge_point_id=plan.charge_point_id,
            action=plan.action,
            payload=plan.payload,
            source="roaming",
        )
    except CommandTimeout:
        return command_result("TIMEOUT", "The charger did not answer")
    except (ChargePointOffline, ChargePointNotFound, CommandsUnavailable):
        return command_result("FAILED", "The charger could not be reached")
    except CommandError as exc:
        return command_result("FAILED", str(exc))
    if command.status == CommandStatus.TIMED_OUT:
        return command_result("TIMEOUT", "The charger did not answer")
    if command.status != CommandStatus.ANSWERED:
        return command_result("FAILED", command.error_code or "The charger refused the message")
    status = (command.response or {}).get("status")
    return command_result(CHARGER_STATUS_RESULTS.get(status, "FAILED"), f"Charger: {status}")


def command_result(result: str, message: str = "") -> dict:
    body = {"result": result}
    if message:
        body["message"] = [{"language": "en", "text": message[:512]}]
    return body


def command_result_send(*, party_pk: int, response_url: str, result: dict) -> str:
    """POST a CommandResult to the partner; PartnerError when it fails (the task retries)."""
    party = Party.objects.filter(pk=party_pk, status=PartyStatus.REGISTERED).first()
    if party is None or not party.outgoing_token_encrypted:
        return "partner gone"
    token = token_decrypt(party.outgoing_token_encrypted)
    ocpi_call(method="POST", url=response_url, token=token, party=party, body=result)
    return "sent"

"""The Commands module, CPO side (Receiver): a partner's eMSP remotely starts and stops sessions.

A command is answered at once with a CommandResponse, from what our
database knows: the command and its fields, the partner's token, the
Location/EVSE (roaming.locations' ids: the station and connector keys),
the session, whether the charger is connected. An accepted command goes to
the charger in a Celery task through the project's command path (the OCPP
action of the charger's version), and the charger's answer is POSTed to
the partner's response_url as a CommandResult (roaming.tasks retries that
POST while the partner fails).

RESERVE_NOW and CANCEL_RESERVATION: the spec forbids passing the
partner's reservation id to the charger, so the charger gets a number of
ours, kept with the partner's id in a RoamingReservation (a RESERVE_NOW
with an id the partner used before replaces that reservation). What
became of it at the charger is the stations Reservation of our number.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

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
from stations.models import ChargePoint, Connector, Reservation, ReservationStatus, Transaction
from stations.timestamps import format_ocpp_datetime

from .choices import PartyStatus
from .client import ocpi_call
from .credential_tokens import token_decrypt
from .formats import datetime_parse
from .locations import location_queryset
from .models import Party, RoamingAuthorization, RoamingReservation, RoamingToken
from .tokens import TokenConflict, TokenInvalid, token_for_command

logger = logging.getLogger(__name__)

COMMAND_TYPES = frozenset(
    {"CANCEL_RESERVATION", "RESERVE_NOW", "START_SESSION", "STOP_SESSION", "UNLOCK_CONNECTOR"}
)

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
    # ReserveNow (1.6 and 2.0.1).
    "Faulted": "EVSE_INOPERATIVE",
    "Occupied": "EVSE_OCCUPIED",
    "Unavailable": "EVSE_INOPERATIVE",
}
# Where an action's answer means more than its status word says.
ACTION_STATUS_RESULTS = {("CancelReservation", "Rejected"): "UNKNOWN_RESERVATION"}
# Our reservation at the charger while its answer is awaited, or in force.
RESERVATION_ACTIVE = (ReservationStatus.REQUESTED, ReservationStatus.ACCEPTED)


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
    # Sent after the command, their answers ignored: the cancellation of a replaced
    # reservation at another charger ({"charge_point_id", "action", "payload"}).
    then: list[dict] = field(default_factory=list)

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
    then: list[dict] = []
    started_by = None
    if command == "START_SESSION":
        charge_point, action, payload, started_by = _start_session(party, body)
    elif command == "STOP_SESSION":
        charge_point, action, payload = _stop_session(party, body)
    elif command == "RESERVE_NOW":
        request = _reserve_now_request(party, body)
        charge_point = request.charge_point
    elif command == "CANCEL_RESERVATION":
        charge_point, action, payload = _cancel_reservation(party, body)
    else:
        charge_point, action, payload = _unlock_connector(body)
    if not chargepoint_reachable(charge_point=charge_point):
        raise CommandRefused("REJECTED", "The charger is offline")
    # Kept only for a command that goes to the charger.
    if command == "RESERVE_NOW":
        action, payload, then = _reservation_store(party, request)
    elif command == "START_SESSION":
        _start_authorization_keep(body, charge_point, started_by)
    return CommandPlan(
        party_pk=party.pk,
        command=command,
        response_url=response_url,
        charge_point_id=charge_point.charge_point_id,
        action=action,
        payload=payload,
        then=then,
    )


def _string(body: dict, name: str, max_length: int = 36, *, required: bool = True) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise CommandInvalid(f"{name}: a string of 1 to {max_length} characters")
    return value


def _command_token(party: Party, body: dict) -> RoamingToken:
    """The token the command carries (authorized by the eMSP for it), usable at our chargers.

    Stored from the command when the partner never pushed it (app and ad-hoc
    users are not pushed); roaming.tokens explains the id tag it gets.
    """
    token_data = body.get("token")
    if not isinstance(token_data, dict):
        raise CommandInvalid("token: give the Token object")
    try:
        token = token_for_command(party=party, data=token_data)
    except TokenInvalid as exc:
        raise CommandInvalid(f"token.{exc}") from exc
    except TokenConflict as exc:
        raise CommandRefused("REJECTED", str(exc)) from exc
    if not token.valid:
        raise CommandRefused("REJECTED", "The token is not valid")
    if token.id_tag is None:
        raise CommandRefused(
            "REJECTED", f"The token cannot be used at our chargers: {token.mirror_problem}"
        )
    return token


def _start_session(party: Party, body: dict) -> tuple[ChargePoint, str, dict, RoamingToken]:
    token = _command_token(party, body)
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
        return charge_point, "RequestStartTransaction", payload, token
    return (
        charge_point,
        "RemoteStartTransaction",
        {"connectorId": connector.connector_id, "idTag": id_tag},
        token,
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


def _published_location(location_id: str) -> int:
    """The station a Location id of ours names; CommandRefused (2003) when none."""
    published = location_id.isdigit() and len(location_id) < 10
    if published:
        published = location_queryset().filter(pk=int(location_id)).exists()
    if not published:
        raise CommandRefused("REJECTED", f"Unknown location {location_id}", unknown_location=True)
    return int(location_id)


def _connector(body: dict, *, evse_required: bool, connector_id: str) -> Connector:
    """The connector a Location/EVSE (/Connector) of ours names; CommandRefused when none."""
    location_id = _string(body, "location_id")
    evse_uid = _string(body, "evse_uid", required=evse_required)
    if connector_id and not evse_uid:
        raise CommandInvalid("evse_uid: required with connector_id")
    _published_location(location_id)
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


# --- reservations -----------------------------------------------------------------


@dataclass(frozen=True)
class ReserveNowRequest:
    """A checked RESERVE_NOW, before anything is stored."""

    token: RoamingToken
    reservation_id: str
    charge_point: ChargePoint
    connector_id: int  # the domain's connector id (the 2.0.1 EVSE id); 0: any
    expiry_date: object
    authorization_reference: str


def _reserve_now_request(party: Party, body: dict) -> ReserveNowRequest:
    reservation_id = _string(body, "reservation_id")
    expiry_text = body.get("expiry_date")
    expiry_date = datetime_parse(expiry_text) if isinstance(expiry_text, str) else None
    if expiry_date is None:
        raise CommandInvalid("expiry_date: an RFC 3339 date-time")
    reference = _string(body, "authorization_reference", required=False)
    token = _command_token(party, body)
    if expiry_date <= timezone.now():
        raise CommandRefused("REJECTED", "expiry_date: the reservation would have ended already")
    if body.get("evse_uid") is not None:
        connector = _connector(body, evse_required=True, connector_id="")
        charge_point, connector_id = connector.charge_point, connector.connector_id
    else:
        # OCPI: no EVSE named, the charger keeps one free (OCPP connector 0 / no evseId).
        station_pk = _published_location(_string(body, "location_id"))
        chargers = list(
            ChargePoint.objects.filter(
                station_id=station_pk, registration_status=RegistrationStatus.ACCEPTED
            )[:2]
        )
        if len(chargers) != 1:
            raise CommandRefused(
                "REJECTED", "evse_uid: this location has several chargers (or none), name an EVSE"
            )
        charge_point, connector_id = chargers[0], 0
    return ReserveNowRequest(
        token=token,
        reservation_id=reservation_id,
        charge_point=charge_point,
        connector_id=connector_id,
        expiry_date=expiry_date,
        authorization_reference=reference,
    )


def _reservation_store(party: Party, request: ReserveNowRequest) -> tuple[str, dict, list[dict]]:
    """Keep the partner's reservation with our number; the ReserveNow and its follow-ups.

    The partner's id used before is the same reservation, replaced: at the
    same charger it keeps our number (OCPP: the charger replaces a
    reservation with the same id); at another charger it gets a new one and
    the old reservation there is cancelled after the new one is sent.
    """
    token = request.token
    identity = dict(
        partner=party,
        country_code=token.country_code,
        party_id=token.party_id,
        reservation_id=request.reservation_id,
    )
    then: list[dict] = []
    for _attempt in range(3):
        try:
            with transaction.atomic():
                mapping = RoamingReservation.objects.select_for_update().filter(**identity).first()
                if mapping is None:
                    mapping = RoamingReservation(**identity)
                elif mapping.charge_point_id != request.charge_point.pk:
                    if _reservation_active(mapping):
                        then = [_cancellation(mapping.charge_point, mapping.ocpp_reservation_id)]
                    mapping.ocpp_reservation_id = None
                if mapping.ocpp_reservation_id is None:
                    mapping.ocpp_reservation_id = _next_ocpp_reservation_id()
                mapping.charge_point = request.charge_point
                mapping.connector_id = request.connector_id
                mapping.token = token
                mapping.authorization_reference = request.authorization_reference
                mapping.expiry_date = request.expiry_date
                mapping.received_at = timezone.now()
                mapping.save()
            break
        except IntegrityError:  # our number or the partner's id taken meanwhile: again
            then = []
    else:
        raise CommandRefused("REJECTED", "The reservation could not be stored, try again")
    action, payload = _reserve_now_call(request, mapping.ocpp_reservation_id)
    return action, payload, then


def _next_ocpp_reservation_id() -> int:
    """A number no reservation of a partner or of our operators has (unique network-wide)."""
    operators = Reservation.objects.aggregate(latest=Max("reservation_id"))["latest"] or 0
    roaming = RoamingReservation.objects.aggregate(latest=Max("ocpp_reservation_id"))["latest"]
    return max(operators, roaming or 0) + 1


def _reserve_now_call(request: ReserveNowRequest, ocpp_reservation_id: int) -> tuple[str, dict]:
    id_tag = request.token.id_tag.id_tag
    if request.charge_point.ocpp_version == OcppVersion.V201:
        payload = {
            "id": ocpp_reservation_id,
            "expiryDateTime": format_ocpp_datetime(request.expiry_date),
            "idToken": {"idToken": id_tag, "type": "ISO14443"},
        }
        if request.connector_id:
            payload["evseId"] = request.connector_id
        return "ReserveNow", payload
    return "ReserveNow", {
        "connectorId": request.connector_id,
        "expiryDate": format_ocpp_datetime(request.expiry_date),
        "idTag": id_tag,
        "reservationId": ocpp_reservation_id,
    }


def _reservation_active(mapping: RoamingReservation) -> bool:
    """Whether our reservation may still be in force at the charger.

    Its stations Reservation appears when the charger answers; until then
    the partner's expiry date tells.
    """
    if mapping.expiry_date <= timezone.now():
        return False
    status = (
        Reservation.objects.filter(reservation_id=mapping.ocpp_reservation_id)
        .values_list("status", flat=True)
        .first()
    )
    return status is None or status in RESERVATION_ACTIVE


def _cancellation(charge_point: ChargePoint, ocpp_reservation_id: int) -> dict:
    return {
        "charge_point_id": charge_point.charge_point_id,
        "action": "CancelReservation",
        "payload": {"reservationId": ocpp_reservation_id},
    }


def _cancel_reservation(party: Party, body: dict) -> tuple[ChargePoint, str, dict]:
    reservation_id = _string(body, "reservation_id")
    found = list(
        RoamingReservation.objects.select_related("charge_point").filter(
            partner=party, reservation_id=reservation_id
        )[:2]
    )
    if not found:
        raise CommandRefused("REJECTED", f"Unknown reservation {reservation_id}")
    if len(found) > 1:
        raise CommandRefused("REJECTED", f"Reservation {reservation_id} is ambiguous (a hub's)")
    mapping = found[0]
    if not _reservation_active(mapping):
        raise CommandRefused(
            "REJECTED", f"Reservation {reservation_id} has ended (used, expired or cancelled)"
        )
    cancel = _cancellation(mapping.charge_point, mapping.ocpp_reservation_id)
    return mapping.charge_point, cancel["action"], cancel["payload"]


def _start_authorization_keep(body: dict, charge_point: ChargePoint, token: RoamingToken) -> None:
    """A START_SESSION authorizes its token at that charger (OCPI: the eMSP did).

    Kept for the Session and CDR (auth_method COMMAND, the authorization_reference
    if given), and so that the start that follows is not asked about again in
    real time (roaming.realtime).
    """
    RoamingAuthorization.objects.create(
        token=token,
        charge_point=charge_point,
        source=RoamingAuthorization.Source.COMMAND,
        allowed="ALLOWED",
        authorization_reference=_string(body, "authorization_reference", required=False) or "",
    )


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
    result = ACTION_STATUS_RESULTS.get((plan.action, status)) or CHARGER_STATUS_RESULTS.get(status)
    return command_result(result or "FAILED", f"Charger: {status}")


def command_followups_send(plan: CommandPlan) -> None:
    """Send the plan's follow-up commands; a failure is logged (nothing waits for them)."""
    for followup in plan.then:
        try:
            command_send_sync(source="roaming", **followup)
        except CommandError as exc:
            logger.warning("Follow-up %s not sent: %s", followup["action"], exc)


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

"""The one way to send a command (a CALL) to a charge point.

Its ORM work uses plain sync_to_async, not database_sync_to_async: callers
may be inside a database transaction (an API request, a test), whose
connection must not be closed under them.

API views, admin actions, Celery tasks and management commands call
`command_send` (or `command_send_sync` from synchronous code). It records the
command, hands it through the channel layer to the consumer that holds the
charge point's socket (on whichever node), and waits for the outcome. The
consumer sends one CALL at a time and queues the rest in order; it records
the answer itself, so a caller that gives up early loses nothing.
"""

from __future__ import annotations

import asyncio
import time

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from stations.models import ChargePoint
from stations.services.security import configuration_redacted
from stations.services.smart_charging import charging_profile_problems

from . import errors, framing
from .models import Command, CommandStatus

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

# How long past the consumer's own timeout the caller waits for the outcome.
REPLY_MARGIN = 5.0


class CommandError(Exception):
    """A command could not be carried out; `command` holds its record (if any)."""

    def __init__(self, message: str, command: Command | None = None):
        super().__init__(message)
        self.command = command


class UnknownAction(CommandError):
    pass


class InvalidPayload(CommandError):
    pass


class ChargePointNotFound(CommandError):
    pass


class ChargePointOffline(CommandError):
    pass


class CommandTimeout(CommandError):
    pass


def command_validate(*, action: str, payload: dict) -> None:
    """Raise UnknownAction or InvalidPayload unless the CALL would be valid."""
    if action not in CS_TO_CP_ACTIONS:
        raise UnknownAction(f"{action} is not an OCPP 1.6 Central System command")
    try:
        framing.validate_request(action, payload)
    except errors.OCPPError as exc:
        raise InvalidPayload(exc.description) from exc
    problems = charging_profile_problems(action=action, payload=payload)
    if problems:
        raise InvalidPayload("; ".join(problems))


def _command_create(
    *, charge_point_id: str, action: str, payload: dict, requested_by_id, source: str
) -> tuple[ChargePoint, Command]:
    charge_point = ChargePoint.objects.filter(charge_point_id=charge_point_id).first()
    if charge_point is None:
        raise ChargePointNotFound(f"no charge point {charge_point_id!r}")
    command = Command.objects.create(
        charge_point=charge_point,
        action=action,
        payload=configuration_redacted(action=action, payload=payload),
        requested_by_id=requested_by_id,
        source=source,
    )
    return charge_point, command


def command_mark(*, command_id: int, status: str, **fields) -> None:
    """Record a command's progress (used by the caller and the consumer)."""
    Command.objects.filter(pk=command_id).update(status=status, **fields)


def _mark_timed_out_if_unanswered(command_id: int) -> Command:
    Command.objects.filter(
        pk=command_id, status__in=[CommandStatus.PENDING, CommandStatus.SENT]
    ).update(status=CommandStatus.TIMED_OUT, error_description="no outcome within the timeout")
    return Command.objects.get(pk=command_id)


async def command_send(
    *,
    charge_point_id: str,
    action: str,
    payload: dict,
    requested_by_id: int | None = None,
    source: str = "system",
    timeout: float | None = None,
) -> Command:
    """Send a CALL and return its record once answered (status answered or failed).

    Raises UnknownAction / InvalidPayload before anything is recorded,
    ChargePointNotFound, ChargePointOffline, or CommandTimeout.
    """
    command_validate(action=action, payload=payload)
    timeout = settings.OCPP_CALL_TIMEOUT if timeout is None else timeout
    charge_point, command = await sync_to_async(_command_create)(
        charge_point_id=charge_point_id,
        action=action,
        payload=payload,
        requested_by_id=requested_by_id,
        source=source,
    )
    if not charge_point.is_online or not charge_point.connection_channel:
        await sync_to_async(command_mark)(command_id=command.pk, status=CommandStatus.OFFLINE)
        command.status = CommandStatus.OFFLINE
        raise ChargePointOffline(f"{charge_point_id} is not connected", command)

    layer = get_channel_layer()
    # The default "specific" prefix matters: channels-redis receives all of a
    # process's specific channels through one BZPOPMIN under one lock, and a
    # reply channel with another prefix would hold that lock for its own list,
    # delaying every consumer of this process by up to 5 s.
    reply_channel = await layer.new_channel()
    await layer.send(
        charge_point.connection_channel,
        {
            "type": "ocpp.command",
            "command_id": command.pk,
            "action": action,
            "payload": payload,
            "reply_to": reply_channel,
            # Not sent at all if still queued past this moment (the caller gave up).
            "deadline": time.time() + timeout,
            "timeout": timeout,
        },
    )
    if not await _wait_for_reply(layer, reply_channel, command, charge_point, timeout):
        command = await sync_to_async(_mark_timed_out_if_unanswered)(command.pk)
        raise CommandTimeout(f"{charge_point_id} did not answer {action} in time", command)
    command = await sync_to_async(Command.objects.get)(pk=command.pk)
    if command.status == CommandStatus.TIMED_OUT:
        raise CommandTimeout(
            f"{charge_point_id} did not answer {action} in time", command
        ) from None
    if command.status == CommandStatus.OFFLINE:
        raise ChargePointOffline(f"{charge_point_id} disconnected", command)
    return command


command_send_sync = async_to_sync(command_send)


async def _wait_for_reply(layer, reply_channel, command, charge_point, timeout) -> bool:
    """Wait for the consumer's reply; False on timeout.

    A socket that closed before its consumer took the command leaves the
    command in a channel nobody reads: every second the charge point's
    connection is checked, and such a command ends as `offline` at once.
    """
    receiving = asyncio.ensure_future(layer.receive(reply_channel))
    deadline = asyncio.get_running_loop().time() + timeout + REPLY_MARGIN
    try:
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return False
            done, _ = await asyncio.wait({receiving}, timeout=min(remaining, 1.0))
            if done:
                receiving.result()
                return True
            if await sync_to_async(_abandoned_by_socket)(
                command.pk, charge_point.connection_channel
            ):
                return True
    finally:
        if not receiving.done():
            receiving.cancel()


def _abandoned_by_socket(command_id: int, channel: str) -> bool:
    """Mark `offline` a command still pending whose socket is gone; True if so."""
    still_connected = ChargePoint.objects.filter(
        connection_channel=channel, is_online=True
    ).exists()
    if still_connected:
        return False
    return bool(
        Command.objects.filter(pk=command_id, status=CommandStatus.PENDING).update(
            status=CommandStatus.OFFLINE,
            error_description="the charge point disconnected before the command was sent",
        )
    )


def command_outcome_fields(*, status: str, **fields) -> dict:
    """The fields the consumer stores when a command ends."""
    return {"status": status, "answered_at": timezone.now(), **fields}

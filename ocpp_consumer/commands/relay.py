"""Commands across processes on the in-process channel layer (no Redis).

Without REDIS_URL the channel layer lives in one process's memory: only the
server process holding a charge point's socket can hand it a command.
`manage.py ocpp_command`, a Celery worker, or another server process reach
it through the database instead, on the same path otherwise:

1. delivery.py asks `relay_needed`: the layer is in-process and this
   process does not hold the socket.
2. `command_relay` writes a CommandRelay row next to the Command record.
3. The server process that holds the socket takes the row (relay_listener.py,
   a thread polling a few times a second) and hands the command to its
   consumer through its own layer, as any local command.
4. The consumer records the outcome on the Command row, as always; this
   process polls that row until it ends.

A row nobody takes within CLAIM_SECONDS is for a socket that no running
server process holds (the server stopped or was killed while the charge
point was marked connected): the command ends `offline` at once, saying
whether any server process runs at all.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from asgiref.sync import sync_to_async
from channels.layers import BaseChannelLayer, InMemoryChannelLayer
from django.db.models import Exists, OuterRef
from django.utils import timezone

from monitoring.models import NodeKind
from monitoring.selectors import node_list_alive
from stations.models import ChargePoint

from ..identity import charge_point_group
from ..models import Command, CommandRelay, CommandStatus
from .exceptions import ChargePointOffline, CommandTimeout
from .records import command_mark_abandoned_by_socket, command_mark_timed_out_if_unanswered

# A server process looks for relayed commands this often (relay_listener.py).
POLL_SECONDS = 0.3
# A row not taken within this is for a socket no running server process holds.
CLAIM_SECONDS = 2.0
# How often the sender reads the Command row for its outcome.
OUTCOME_POLL_SECONDS = 0.15
_ENDED = {
    CommandStatus.ANSWERED,
    CommandStatus.FAILED,
    CommandStatus.TIMED_OUT,
    CommandStatus.OFFLINE,
}
NO_SERVER_HINT = (
    "no CSMS server process is running: start it (bin/run) and let the charge point reconnect"
)


def layer_in_process(layer: BaseChannelLayer | None) -> bool:
    return isinstance(layer, InMemoryChannelLayer)


def held_here(layer: InMemoryChannelLayer, *, charge_point_id: str, channel: str) -> bool:
    """Whether this process's consumer owns `channel` (the in-process layer's own books).

    A consumer is in its charge point's group from connect to disconnect, and
    its channel has a queue while it waits for a message: either shows it is here.
    """
    members = layer.groups.get(charge_point_group(charge_point_id), {})
    return channel in members or channel in layer.channels


def relay_needed(layer: BaseChannelLayer | None, charge_point: ChargePoint) -> bool:
    """Whether a command to this charge point must go through the database."""
    return layer_in_process(layer) and not held_here(
        layer,
        charge_point_id=charge_point.charge_point_id,
        channel=charge_point.connection_channel,
    )


def servers_running() -> bool:
    """Whether any ASGI server process beats in the node registry."""
    return node_list_alive().filter(kind=NodeKind.ASGI).exists()


async def command_relay(
    *, command: Command, charge_point: ChargePoint, payload: dict, timeout: float, wait: float
) -> Command:
    """Relay a recorded command; return its record once answered or failed.

    `payload` is the CALL's in full, `timeout` the consumer's wait for the
    charge point, `wait` the caller's for the outcome. Raises CommandTimeout,
    or ChargePointOffline when no server process took it or the socket closed.
    """
    await sync_to_async(_relay_record)(
        command_id=command.pk,
        channel=charge_point.connection_channel,
        payload=payload,
        timeout=timeout,
    )
    cp_id, action = charge_point.charge_point_id, command.action
    ended = await _wait_for_outcome(command, charge_point, wait)
    if not ended:
        await sync_to_async(_relay_withdraw)(command_id=command.pk)
        command = await sync_to_async(command_mark_timed_out_if_unanswered)(command_id=command.pk)
        raise CommandTimeout(f"{cp_id} did not answer {action} in time", command)
    command = await sync_to_async(Command.objects.get)(pk=command.pk)
    if command.status == CommandStatus.TIMED_OUT:
        raise CommandTimeout(f"{cp_id} did not answer {action} in time", command)
    if command.status == CommandStatus.OFFLINE:
        raise ChargePointOffline(f"{cp_id} disconnected", command)
    return command


async def _wait_for_outcome(command: Command, charge_point: ChargePoint, wait: float) -> bool:
    """Poll the record until it ends (True) or `wait` passes (False)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    next_socket_check = started + 1.0
    while True:
        status, waiting_in_relay = await sync_to_async(_progress)(command_id=command.pk)
        if status in _ENDED:
            return True
        now = loop.time()
        if waiting_in_relay and now - started >= CLAIM_SECONDS:
            # Withdrawing is atomic with a server's taking: one of the two wins.
            if await sync_to_async(_relay_withdraw)(command_id=command.pk):
                reason, command = await sync_to_async(_mark_untaken)(command_id=command.pk)
                raise ChargePointOffline(f"{charge_point.charge_point_id} {reason}", command)
        if now - started >= wait:
            return False
        if not waiting_in_relay and now >= next_socket_check:
            # Taken, but the socket may have closed before its consumer sent it.
            next_socket_check = now + 1.0
            if await sync_to_async(command_mark_abandoned_by_socket)(
                command_id=command.pk, channel=charge_point.connection_channel
            ):
                return True
        await asyncio.sleep(OUTCOME_POLL_SECONDS)


def _relay_record(*, command_id: int, channel: str, payload: dict, timeout: float) -> None:
    CommandRelay.objects.create(
        command_id=command_id,
        channel=channel,
        payload=payload,
        timeout=timeout,
        deadline=timezone.now() + timedelta(seconds=timeout),
    )


def _progress(*, command_id: int) -> tuple[str, bool]:
    """The record's status, and whether it still waits to be taken (one query)."""
    return (
        Command.objects.filter(pk=command_id)
        .annotate(relayed=Exists(CommandRelay.objects.filter(command_id=OuterRef("pk"))))
        .values_list("status", "relayed")
        .get()
    )


def _relay_withdraw(*, command_id: int) -> bool:
    """Take the row back; True if no server process had taken it."""
    deleted, _ = CommandRelay.objects.filter(command_id=command_id).delete()
    return bool(deleted)


def _mark_untaken(*, command_id: int) -> tuple[str, Command]:
    reason = (
        "is not connected to any running server process"
        if servers_running()
        else f"is not reachable: {NO_SERVER_HINT}"
    )
    Command.objects.filter(pk=command_id, status=CommandStatus.PENDING).update(
        status=CommandStatus.OFFLINE, error_description=reason
    )
    return reason, Command.objects.get(pk=command_id)

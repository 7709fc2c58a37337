"""Route a recorded command to the consumer holding the socket, and wait for its end.

The charge point's `connection_channel` names that consumer's channel, on
whichever node; the channel layer carries the command there as a
COMMAND_EVENT, which Channels hands to the consumer's `ocpp_command`
(call_queue.CallQueueMixin). The consumer records the outcome on the Command
row itself and then sends REPLY_EVENT to the caller's reply channel: a
caller that gives up early loses nothing.

Without the channel layer (Redis down) a command cannot reach a socket on
any node: it ends `failed` at once ("channel layer unreachable") and
CommandsUnavailable tells the caller to retry later (the API's 503). Should
the layer fail after the command left, the caller reads its outcome from the
row.

Its ORM work uses plain sync_to_async, not database_sync_to_async: callers
may be inside a database transaction (an API request, a test), whose
connection must not be closed under them.
"""

from __future__ import annotations

import asyncio
import time
from functools import partial

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from monitoring.channel_health import health, layer_call, layer_unreachable
from stations.models import ChargePoint

from ..models import Command, CommandStatus
from .exceptions import ChargePointOffline, CommandsUnavailable, CommandTimeout
from .records import (
    command_has_ended,
    command_mark_abandoned_by_socket,
    command_mark_timed_out_if_unanswered,
    command_mark_unroutable,
)
from .relay import command_relay, relay_needed

# The channel-layer message types of the two hops (consumers on other nodes
# may run the previous release: the names are part of the cluster's protocol).
COMMAND_EVENT = "ocpp.command"
REPLY_EVENT = "ocpp.reply"
# How long past the consumer's own timeout the caller waits for the outcome.
REPLY_MARGIN = 5.0


async def command_deliver(
    *, command: Command, charge_point: ChargePoint, payload: dict, timeout: float
) -> Command:
    """Hand the command to the socket's consumer; return its record once answered or failed.

    Raises CommandTimeout, or ChargePointOffline when the socket closed first.
    `payload` is the CALL's in full (the record holds it redacted).
    """
    layer = get_channel_layer()
    if relay_needed(layer, charge_point):  # in-process layer, socket in another process
        wait = timeout + REPLY_MARGIN
        return await command_relay(
            command=command, charge_point=charge_point, payload=payload, timeout=timeout, wait=wait
        )
    # The default "specific" prefix matters: channels-redis receives all of a
    # process's specific channels through one BZPOPMIN under one lock, and a
    # reply channel with another prefix would hold that lock for its own list,
    # delaying every consumer of this process by up to 5 s.
    reply_channel = await layer.new_channel()
    event = {
        "type": COMMAND_EVENT,
        "command_id": command.pk,
        "action": command.action,
        "payload": payload,
        "reply_to": reply_channel,
        # Not sent at all if still queued past this moment (the caller gave up).
        "deadline": time.time() + timeout,
        "timeout": timeout,
    }
    try:
        send = partial(layer.send, charge_point.connection_channel, event)
        await layer_call("command send", send)
    except Exception as exc:
        if not layer_unreachable(exc):
            raise
        command = await sync_to_async(command_mark_unroutable)(command_id=command.pk)
        raise CommandsUnavailable(
            "commands cannot be routed: the channel layer is unreachable", command
        ) from exc
    charge_point_id, action = charge_point.charge_point_id, command.action
    if not await _wait_for_reply(layer, reply_channel, command, charge_point, timeout):
        command = await sync_to_async(command_mark_timed_out_if_unanswered)(command_id=command.pk)
        raise CommandTimeout(f"{charge_point_id} did not answer {action} in time", command)
    command = await sync_to_async(Command.objects.get)(pk=command.pk)
    if command.status == CommandStatus.TIMED_OUT:
        raise CommandTimeout(f"{charge_point_id} did not answer {action} in time", command)
    if command.status == CommandStatus.OFFLINE:
        raise ChargePointOffline(f"{charge_point_id} disconnected", command)
    return command


async def _wait_for_reply(layer, reply_channel, command, charge_point, timeout) -> bool:
    """Wait for the consumer's reply; False on timeout.

    A socket that closed before its consumer took the command leaves the
    command in a channel nobody reads: every second the charge point's
    connection is checked, and such a command ends as `offline` at once.
    The same check sees a command that ended: should the channel layer fail
    while waiting, the row alone tells the outcome.
    """
    receiving = asyncio.ensure_future(layer.receive(reply_channel))
    deadline = asyncio.get_running_loop().time() + timeout + REPLY_MARGIN
    try:
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return False
            if receiving is None:
                await asyncio.sleep(min(remaining, 1.0))
                if await sync_to_async(command_has_ended)(command_id=command.pk):
                    return True
            else:
                done, _ = await asyncio.wait({receiving}, timeout=min(remaining, 1.0))
                error = receiving.exception() if done else None
                if done and error is None:
                    return True
                if done:  # the layer failed: the command may be answered all the same
                    if not layer_unreachable(error):
                        raise error
                    health.failed("command reply", error)
                    receiving = None
            if await sync_to_async(command_mark_abandoned_by_socket)(
                command_id=command.pk, channel=charge_point.connection_channel
            ):
                return True
    finally:
        if receiving is not None and not receiving.done():
            receiving.cancel()

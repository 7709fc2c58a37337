"""Route a recorded command to the consumer holding the socket, and wait for its end.

The charge point's `connection_channel` names that consumer's channel, on
whichever node; the channel layer carries the command there as a
COMMAND_EVENT, which Channels hands to the consumer's `ocpp_command`
(call_queue.CallQueueMixin). The consumer records the outcome on the Command
row itself and then wakes the caller: on Redis through the caller's own
reply list (replies.py), on the in-process layer with REPLY_EVENT to the
caller's reply channel. A caller that gives up early loses nothing.

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
from .layer_send import layer_send_one_trip
from .records import (
    command_has_ended,
    command_mark_abandoned_by_socket,
    command_mark_timed_out_if_unanswered,
    command_mark_unroutable,
    command_with_outcome,
)
from .relay import command_relay, relay_needed
from .replies import (
    reply_key_new,
    reply_lists_supported,
    reply_wait,
    unread_reply_channel,
)

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
    reply_key = reply_key_new(layer) if reply_lists_supported(layer) else None
    if reply_key is not None:
        # Read by nobody: only a consumer of the previous release replies there.
        reply_channel = unread_reply_channel()
    else:
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
    if reply_key is not None:
        event["reply_key"] = reply_key
    try:
        send = partial(layer_send_one_trip, layer, charge_point.connection_channel, event)
        await layer_call("command send", send)
    except Exception as exc:
        if not layer_unreachable(exc):
            raise
        command = await sync_to_async(command_mark_unroutable)(command_id=command.pk)
        raise CommandsUnavailable(
            "commands cannot be routed: the channel layer is unreachable", command
        ) from exc
    charge_point_id, action = charge_point.charge_point_id, command.action
    receive = (
        partial(reply_wait, layer, reply_key)
        if reply_key is not None
        else partial(_layer_receive, layer, reply_channel)
    )
    reply = await _wait_for_reply(receive, command, charge_point, timeout)
    if reply is None:
        command = await sync_to_async(command_mark_timed_out_if_unanswered)(command_id=command.pk)
        raise CommandTimeout(f"{charge_point_id} did not answer {action} in time", command)
    if reply:  # the outcome as the consumer committed it: no need to read the row
        command = command_with_outcome(command, reply)
    else:
        command = await sync_to_async(Command.objects.get)(pk=command.pk)
    if command.status == CommandStatus.TIMED_OUT:
        raise CommandTimeout(f"{charge_point_id} did not answer {action} in time", command)
    if command.status == CommandStatus.OFFLINE:
        raise ChargePointOffline(f"{charge_point_id} disconnected", command)
    return command


async def _layer_receive(layer, reply_channel: str, timeout: float) -> dict | None:
    """The in-process layer's reply (REPLY_EVENT) within `timeout`, as replies.reply_wait."""
    try:
        await asyncio.wait_for(layer.receive(reply_channel), timeout)
    except TimeoutError:
        return None
    return {}


async def _wait_for_reply(receive, command, charge_point, timeout) -> dict | None:
    """Wait for the command to end; None on timeout.

    Returns the outcome's fields when the reply carried them, else {} (the
    row holds the outcome). `receive(seconds)` waits at most that long for
    the reply (None: not yet). A socket that closed before its consumer took
    the command leaves the command in a channel nobody reads: every second
    the charge point's connection is checked, and such a command ends as
    `offline` at once.
    The same check sees a command that ended: should the channel layer fail
    while waiting, the row alone tells the outcome.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout + REPLY_MARGIN
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return None
        if receive is None:
            await asyncio.sleep(min(remaining, 1.0))
            if await sync_to_async(command_has_ended)(command_id=command.pk):
                return {}
        else:
            try:
                reply = await receive(min(remaining, 1.0))
                if reply is not None:
                    return reply
            except Exception as exc:  # the layer failed: the command may be answered anyway
                if not layer_unreachable(exc):
                    raise
                health.failed("command reply", exc)
                receive = None
        if await sync_to_async(command_mark_abandoned_by_socket)(
            command_id=command.pk, channel=charge_point.connection_channel
        ):
            return {}

"""The server side of the relay (relay.py): take relayed commands for sockets held here.

Runs in each ASGI server process whose channel layer is in-process, from
`start_with_daphne()` (called by csms_project.asgi, as monitoring.nodes
starts its heartbeat; pytest and management commands run no reactor and
start nothing). A daemon thread with its own database connection reads the
CommandRelay table every relay.POLL_SECONDS (nearly always empty: one cheap
query), so the polling never waits behind the consumers' ORM thread. For
each row whose socket this process holds, it deletes the row (the delete is
the claim: one process wins) and hands the command to the consumer on the
event loop through the local layer, exactly as a local command.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from dataclasses import dataclass

from channels.layers import get_channel_layer
from django.db import close_old_connections, connection
from django.utils import timezone

from ..models import CommandRelay
from .delivery import COMMAND_EVENT, REPLY_MARGIN
from .relay import POLL_SECONDS, held_here, layer_in_process

logger = logging.getLogger(__name__)
# Rows read per poll: a burst beyond it is taken on the next polls.
BATCH = 100
# How long a future on the event loop may take before this poll gives up.
LOOP_WAIT_SECONDS = 5.0

_listener: RelayListener | None = None


@dataclass(frozen=True)
class RelayedCommand:
    command_id: int
    charge_point_id: str
    action: str
    channel: str
    payload: dict
    timeout: float
    deadline: float  # epoch seconds, as the consumer's queue reads it


class RelayListener(threading.Thread):
    def __init__(self, loop: asyncio.AbstractEventLoop, layer, interval: float = POLL_SECONDS):
        super().__init__(name="csms-command-relay", daemon=True)
        self.loop, self.layer, self.interval = loop, layer, interval
        self.stopping = threading.Event()
        self._failing = False

    def run(self) -> None:
        try:
            while not self.stopping.wait(self.interval):
                close_old_connections()
                try:
                    self.poll_once()
                    self._failing = False
                except Exception:
                    # Once per streak: a database that is away for a minute
                    # must not write 200 tracebacks.
                    if not self._failing:
                        logger.exception("the command relay could not read its table")
                    self._failing = True
        finally:
            connection.close()

    def poll_once(self) -> int:
        """Take and hand over the relayed commands of sockets held here; return how many."""
        rows = _relayed_commands()
        if not rows:
            return 0
        now = timezone.now().timestamp()
        expired = [row.command_id for row in rows if row.deadline < now]
        if expired:
            # Their callers gave up (they mark the outcome); the payload goes.
            CommandRelay.objects.filter(command_id__in=expired).delete()
        due = [row for row in rows if row.deadline >= now]
        held = self._on_loop(self._held, due) if due else []
        taken = 0
        for row in held:
            deleted, _ = CommandRelay.objects.filter(command_id=row.command_id).delete()
            if deleted:  # not withdrawn by its caller, nor taken by another process
                asyncio.run_coroutine_threadsafe(self._hand_over(row), self.loop)
                taken += 1
        return taken

    def _on_loop(self, coroutine_function, *args):
        future = asyncio.run_coroutine_threadsafe(coroutine_function(*args), self.loop)
        return future.result(LOOP_WAIT_SECONDS)

    async def _held(self, rows: list[RelayedCommand]) -> list[RelayedCommand]:
        # On the loop: the in-process layer's books are the loop's to read.
        return [
            row
            for row in rows
            if held_here(self.layer, charge_point_id=row.charge_point_id, channel=row.channel)
        ]

    async def _hand_over(self, row: RelayedCommand) -> None:
        reply_channel = await self.layer.new_channel()
        await self.layer.send(
            row.channel,
            {
                "type": COMMAND_EVENT,
                "command_id": row.command_id,
                "action": row.action,
                "payload": row.payload,
                "reply_to": reply_channel,
                "deadline": row.deadline,
                "timeout": row.timeout,
            },
        )
        # The caller reads the outcome from the record; the consumer's reply
        # is only taken off the layer so that it does not linger in memory.
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(self.layer.receive(reply_channel), row.timeout + REPLY_MARGIN)


def _relayed_commands() -> list[RelayedCommand]:
    fields = (
        "command_id",
        "command__charge_point__charge_point_id",
        "command__action",
        "channel",
        "payload",
        "timeout",
        "deadline",
    )
    return [
        RelayedCommand(
            command_id=command_id,
            charge_point_id=charge_point_id,
            action=action,
            channel=channel,
            payload=payload,
            timeout=timeout,
            deadline=deadline.timestamp(),
        )
        for command_id, charge_point_id, action, channel, payload, timeout, deadline in (
            CommandRelay.objects.order_by("command_id").values_list(*fields)[:BATCH]
        )
    ]


def relay_listen() -> RelayListener | None:
    """Start the listener on the running loop, once, if the layer is in-process."""
    global _listener
    layer = get_channel_layer()
    if _listener is not None or not layer_in_process(layer):
        return _listener
    _listener = RelayListener(asyncio.get_running_loop(), layer)
    _listener.start()
    logger.info("command relay: taking commands sent by other processes (no REDIS_URL)")
    return _listener


def start_with_daphne() -> bool:
    """Start the listener once Daphne's reactor runs; False where there is no reactor."""
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is None or not hasattr(reactor, "callWhenRunning"):
        return False
    # callLater(0): the callback then runs inside the running asyncio loop.
    reactor.callWhenRunning(lambda: reactor.callLater(0, relay_listen))
    return True

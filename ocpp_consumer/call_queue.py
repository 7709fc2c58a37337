"""The consumer's side of commands: one CALL in flight, the rest queued in order.

Commands arrive as channel-layer events (commands.delivery.COMMAND_EVENT,
which Channels dispatches to `ocpp_command`). A separate task sends them, so
the consumer's own loop keeps reading frames: the answer to our CALL arrives
through `receive`, which resolves the waiting future. A charge point's reply
is never awaited inline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from functools import partial

from channels.db import database_sync_to_async
from django.utils import timezone

from monitoring.channel_health import layer_call, layer_unreachable
from monitoring.metrics import count_command

from . import errors, framing
from .commands.answers import command_answer_applies, command_answer_apply
from .commands.delivery import REPLY_EVENT
from .commands.records import (
    command_mark,
    command_mark_sent,
    command_outcome_fields,
    command_outcome_reply,
    configuration_redacted,
)
from .commands.replies import reply_lists_supported, reply_push
from .models import CommandStatus

logger = logging.getLogger(__name__)

# An answer within this many seconds is recorded in one write with the
# CALL's unique id and send time; a slower one has the row say `sent` first.
SENT_MARK_GRACE = 0.5
# The key of a command event holding what `sent` would have written.
_UNRECORDED_SENT = "_unrecorded_sent"


def _record(write):
    """A Command row write, on a thread of the pool rather than the consumers' ORM thread.

    One command's writes follow each other (each is awaited), and commands
    to different charge points are independent rows: with tens in flight,
    their commits then overlap instead of queueing behind each other and
    behind every other consumer's ORM work on that one thread.
    """
    return database_sync_to_async(write, thread_sensitive=False)


class CallQueueMixin:
    """Mixed into the consumer; needs `send_frame`, `charge_point_id`, `session`."""

    def call_queue_init(self) -> None:
        self._pending: dict[str, tuple[str, asyncio.Future]] = {}
        # A plain deque, made on the first command: an asyncio.Queue per idle
        # socket cost 3 KiB, and the sender task below is the only reader.
        self._queued: deque[dict] | None = None
        self._sender: asyncio.Task | None = None
        self._in_flight: dict | None = None

    async def ocpp_command(self, event: dict) -> None:
        """Channel-layer handler: queue a command for this charge point."""
        if self._queued is None:
            self._queued = deque()
        self._queued.append(event)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send_queued())

    def resolve_answer(self, message: framing.CallResult | framing.CallError) -> str | None:
        """Hand an answer to the command waiting for it; return that command's action."""
        entry = self._pending.get(str(message.unique_id))
        if entry is None:
            logger.warning(
                "%s sent a %s for unknown message %r: ignored",
                self.charge_point_id,
                type(message).__name__,
                message.unique_id,
            )
            return None
        action, future = entry
        if not future.done():
            future.set_result(message)
        return action

    async def call_queue_close(self) -> None:
        """On disconnect: what was queued or in flight ends as `offline`."""
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        unfinished = [self._in_flight] if self._in_flight else []
        while self._queued:
            unfinished.append(self._queued.popleft())
        for event in unfinished:
            await self._finish(
                event,
                command_outcome_fields(
                    status=CommandStatus.OFFLINE,
                    error_description="the charge point disconnected before answering",
                ),
            )

    async def _send_queued(self) -> None:
        # Ends when the queue is empty; the next command starts it again.
        while self._queued:
            event = self._queued.popleft()
            self._in_flight = event
            try:
                outcome = await self._send_one(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception(
                    "command %s to %s failed", event["command_id"], self.charge_point_id
                )
                outcome = command_outcome_fields(
                    status=CommandStatus.FAILED, error_description="internal error while sending"
                )
            self._in_flight = None
            # Shielded: a charge point that answers and closes at once (a Reset)
            # cancels this task from `call_queue_close`; its answer must land.
            await asyncio.shield(self._finish(event, outcome))

    async def _send_one(self, event: dict) -> dict:
        action, payload = event["action"], event["payload"]
        if time.time() > event["deadline"]:
            return command_outcome_fields(
                status=CommandStatus.TIMED_OUT, error_description="expired while queued"
            )
        unique_id = str(uuid.uuid4())
        future = asyncio.get_running_loop().create_future()
        self._pending[unique_id] = (action, future)
        try:
            await self.send_frame(
                framing.call_frame(unique_id, action, payload),
                message_type=2,
                unique_id=unique_id,
                action=action,
                payload=configuration_redacted(action=action, payload=payload),
            )
            # Written with the outcome, or as `sent` once the answer takes a while.
            event[_UNRECORDED_SENT] = {"unique_id": unique_id, "sent_at": timezone.now()}
            answer = await self._command_answer(event, future)
        except TimeoutError:
            return command_outcome_fields(
                status=CommandStatus.TIMED_OUT,
                error_description=f"no answer within {event['timeout']} s",
            )
        finally:
            self._pending.pop(unique_id, None)
        if isinstance(answer, framing.CallError):
            return command_outcome_fields(
                status=CommandStatus.FAILED,
                error_code=answer.code[:40],
                error_description=answer.description,
                response=answer.details,
            )
        try:
            framing.validate_result(action, answer.payload, self.session.ocpp_version)
        except errors.OCPPError as exc:
            return command_outcome_fields(
                status=CommandStatus.FAILED,
                error_code="InvalidResponse",
                error_description=exc.description,
                response=answer.payload,
            )
        if not command_answer_applies(action=action, version=self.session.ocpp_version):
            # Most answers change nothing but the row: no trip to the ORM thread.
            return command_outcome_fields(status=CommandStatus.ANSWERED, response=answer.payload)
        try:
            await database_sync_to_async(command_answer_apply)(
                charge_point_pk=self.session.charge_point.pk,
                action=action,
                request=payload,
                response=answer.payload,
                version=self.session.ocpp_version,
            )
        except Exception:  # the answer stands even if recording its effect failed
            logger.exception("applying the %s answer of %s failed", action, self.charge_point_id)
        return command_outcome_fields(status=CommandStatus.ANSWERED, response=answer.payload)

    async def _command_answer(self, event: dict, future: asyncio.Future):
        """The charge point's answer; raises TimeoutError past the command's timeout.

        Most answers come within SENT_MARK_GRACE: the row then goes from
        `pending` to its outcome in one write (one commit on the ORM thread
        instead of two). A slower answer has the row say `sent` meanwhile.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + event["timeout"]
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(
                asyncio.shield(future), min(SENT_MARK_GRACE, event["timeout"])
            )
        if loop.time() >= deadline:
            raise TimeoutError
        await _record(command_mark_sent)(
            command_id=event["command_id"], **event.pop(_UNRECORDED_SENT)
        )
        return await asyncio.wait_for(future, max(deadline - loop.time(), 0.0))

    async def _finish(self, event: dict, outcome: dict) -> None:
        count_command(event["action"], outcome["status"])
        # The CALL's unique id and send time, when not written as `sent` already.
        outcome = {**outcome, **event.pop(_UNRECORDED_SENT, {})}
        await _record(command_mark)(command_id=event["command_id"], **outcome)
        # The reply comes after the commit and only spares the caller reading
        # the row, which it also polls: a channel layer that is down loses nothing.
        if event.get("reply_key") and reply_lists_supported(self.channel_layer):
            reply = command_outcome_reply(outcome)
            call = partial(reply_push, self.channel_layer, event["reply_key"], reply)
        else:  # the in-process layer, or a caller of the previous release
            reply = {"type": REPLY_EVENT, "command_id": event["command_id"]}
            call = partial(self.channel_layer.send, event["reply_to"], reply)
        try:
            await layer_call("command reply", call)
        except Exception as exc:
            if not layer_unreachable(exc):
                raise

"""One charge point's OCPP-J socket: our CALLs one at a time, the CSMS's CALLs answered.

A reader task owns receiving. It hands each CALLRESULT or CALLERROR to the
CALL waiting for it, and answers the CSMS's CALLs as they arrive, so that a
command from the CSMS is answered even while one of our CALLs waits for its
reply (OCPP-J allows one CALL in flight per direction, not per socket).
Reading and building the frames is frames.py's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from websockets.exceptions import ConnectionClosed

from . import frames
from .stats import Stats

logger = logging.getLogger(__name__)


class CallFailed(Exception):
    """A CALL of ours got no usable answer; the kind says why."""


class CallTimeout(CallFailed):
    pass


class ConnectionLost(CallFailed):
    pass


class CallRejected(CallFailed):
    """The CSMS answered with a CALLERROR."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code


@dataclass(frozen=True)
class Answer:
    """How to answer a CALL from the CSMS, and what to do once the answer is sent."""

    payload: dict | None = None
    error: frames.OcppError | None = None
    # Started as a task after the answer went out (e.g. the message a
    # TriggerMessage asked for): it may send CALLs, the reader must not wait.
    then: Callable[[], Awaitable[None]] | None = None


Responder = Callable[[str, dict], Answer]


def ocpp_now() -> str:
    """The current UTC time as OCPP wants it: ISO 8601, milliseconds, "Z"."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class OcppSocket:
    """An open WebSocket (websockets' ClientConnection) speaking OCPP-J (1.6 or 2.0.1).

    The frames are the same in both versions; `version` only decides how the
    CALLERROR codes we send are spelled (frames.wire_code).
    """

    def __init__(
        self,
        websocket,
        *,
        stats: Stats,
        responder: Responder,
        call_timeout: float,
        spawn: Callable[[Awaitable[None]], object],
        version: str = frames.V16,
    ) -> None:
        self._websocket = websocket
        self._version = version
        self._stats = stats
        self._responder = responder
        self._call_timeout = call_timeout
        self._spawn = spawn
        self._lock = asyncio.Lock()
        self._next_id = 0
        # (uniqueId, action, future, perf_counter at send) of the CALL in flight.
        self._pending: tuple[str, str, asyncio.Future, float] | None = None
        self.closed = False

    async def call(self, action: str, payload: dict) -> dict:
        """Send a CALL once the previous one is done; return its CALLRESULT payload.

        Raises CallRejected, CallTimeout or ConnectionLost (each already counted).
        """
        async with self._lock:
            if self.closed:
                raise ConnectionLost("the socket is closed")
            self._next_id += 1
            unique_id = str(self._next_id)
            future = asyncio.get_running_loop().create_future()
            self._stats.call_sent(action)
            self._pending = (unique_id, action, future, time.perf_counter())
            try:
                await self._websocket.send(frames.call_frame(unique_id, action, payload))
                async with asyncio.timeout(self._call_timeout):
                    return await future
            except ConnectionClosed:
                if future.done():  # the reader already failed it (and counted it)
                    future.exception()
                else:
                    future.cancel()
                    self._stats.call_lost(action)
                raise ConnectionLost("the socket closed while sending") from None
            except TimeoutError:
                self._stats.call_timed_out(action)
                raise CallTimeout(f"no answer to {action} in {self._call_timeout} s") from None
            finally:
                self._pending = None

    async def read(self) -> None:
        """Receive until the socket closes; then fail the CALL in flight."""
        try:
            async for text in self._websocket:
                await self._on_frame(text)
        except ConnectionClosed:
            pass
        finally:
            self.closed = True
            if self._pending is not None:
                _, action, future, _ = self._pending
                if not future.done():
                    self._stats.call_lost(action)
                    future.set_exception(ConnectionLost("the socket closed before the answer"))

    async def close(self) -> None:
        await self._websocket.close()

    async def _on_frame(self, text) -> None:
        if not isinstance(text, str):
            self._stats.bad_frame()
            return
        try:
            message = frames.parse_frame(text)
        except frames.Unanswerable as exc:
            self._stats.bad_frame()
            logger.warning("unusable frame from the CSMS (%s): %.200s", exc, text)
            return
        except frames.MalformedCall as exc:
            self._stats.bad_frame()
            await self._send(self._error_frame(exc.unique_id, exc.error))
            return
        if isinstance(message, frames.Call):
            await self._answer(message)
        else:
            self._resolve(message)

    def _resolve(self, message: frames.CallResult | frames.CallError) -> None:
        pending = self._pending
        if pending is None or pending[0] != message.unique_id or pending[2].done():
            self._stats.late_answer()
            return
        _, action, future, sent_at = pending
        latency_ms = (time.perf_counter() - sent_at) * 1000
        if isinstance(message, frames.CallError):
            self._stats.call_error(action, message.code, latency_ms)
            future.set_exception(CallRejected(message.code, message.description))
        elif not isinstance(message.payload, dict):
            self._stats.call_error(action, "NotAnObject", latency_ms)
            future.set_exception(CallRejected("NotAnObject", "the CALLRESULT is not an object"))
        else:
            self._stats.call_answered(action, latency_ms)
            future.set_result(message.payload)

    async def _answer(self, call: frames.Call) -> None:
        try:
            answer = self._responder(call.action, call.payload)
        except Exception:  # a bug here must not kill the socket: answer like a charger would
            logger.exception("answering %s failed", call.action)
            failure = frames.OcppError(
                frames.ErrorCode.INTERNAL_ERROR, "the simulator failed to answer"
            )
            answer = Answer(error=failure)
        if answer.error is not None:
            code = frames.wire_code(answer.error.code, self._version)
            self._stats.call_received(call.action, code)
            await self._send(self._error_frame(call.unique_id, answer.error))
        else:
            self._stats.call_received(call.action, "answered")
            await self._send(frames.call_result_frame(call.unique_id, answer.payload or {}))
        if answer.then is not None:
            self._spawn(answer.then())

    def _error_frame(self, unique_id: str | int, error: frames.OcppError) -> str:
        spelled = frames.OcppError(frames.wire_code(error.code, self._version), error.description)
        return frames.call_error_frame(unique_id, spelled)

    async def _send(self, frame: str) -> None:
        try:
            await self._websocket.send(frame)
        except ConnectionClosed:
            pass  # the reader sees the close next

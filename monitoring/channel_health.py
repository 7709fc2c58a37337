"""Living without the channel layer: outage detection, recovery, and degraded calls.

The channel layer (Redis in production) routes commands to the node holding a
charge point's socket and carries live pushes to dashboards. Nothing a charge
point or a driver needs depends on it: while it is down, sockets stay open and
every OCPP message is answered from the database; commands answer 503 and
live updates pause.

One `ChannelLayerHealth` per process (`health`) keeps that state:

- `layer_unreachable(exc)` tells an outage (Redis refused, timed out, lost
  the connection) from a bug, which must still raise;
- `health.failed(operation, exc)` records a failed call: a counter per call,
  but one warning per outage;
- while the layer is down, one probe per process (not every socket) asks it
  every PROBE_SECONDS whether it is back; `health.ok()` ends the outage and
  wakes whoever waits in `health.wait_up()`.

`ResilientChannelReceiveMixin` keeps a consumer alive through an outage, and
`call_soon` runs a call whose result nobody waits for (a live push) without
blocking its caller, dropping it while the layer is down.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable

from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer
from channels.utils import await_many_dispatch
from prometheus_client import Counter, Gauge

try:  # channels-redis's client; absent where only the in-memory layer is installed
    from redis.exceptions import RedisError
except ImportError:  # pragma: no cover
    RedisError = OSError

logger = logging.getLogger(__name__)

# The longest one channel-layer call may hold up a caller that waits for it
# (a handshake joining its group, an API command being routed). A refused
# connection fails at once; this bounds a Redis that swallows packets.
OPERATION_TIMEOUT = 2.0
# How often the probe asks a layer that is down: soon at first, then steadily.
PROBE_SECONDS = (0.25, 0.5, 1.0, 1.0, 2.0)
PROBE_TIMEOUT = 2.0
# At most this many calls of `call_soon` in flight: a slow layer cannot pile up pushes.
MAX_CALLS_IN_FLIGHT = 1000
# Events a consumer with ResilientChannelReceiveMixin receives from itself.
UNREACHABLE_EVENT = "channel_layer.unreachable"
RESTORED_EVENT = "channel_layer.restored"

CHANNEL_LAYER_UP = Gauge(
    "csms_channel_layer_up",
    "1 while this process reaches the channel layer, 0 during an outage",
    multiprocess_mode="liveall",
)
CHANNEL_LAYER_OUTAGES = Counter(
    "csms_channel_layer_outages_total", "Channel-layer outages this process went through"
)
CHANNEL_LAYER_ERRORS = Counter(
    "csms_channel_layer_errors_total",
    "Channel-layer calls that failed because the layer was unreachable, by operation",
    ["operation"],
)
CHANNEL_LAYER_UP.set(1)


def layer_unreachable(exc: BaseException) -> bool:
    """True for errors that mean "the channel layer is down or too slow", not a bug."""
    return isinstance(exc, RedisError | OSError | TimeoutError)


class ChannelLayerHealth:
    """This process's view of the channel layer; safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self.failures = 0
        self._next_try = 0.0
        # One event per event loop that waits for the layer, set when it is back.
        self._waiters: dict[asyncio.AbstractEventLoop, asyncio.Event] = {}
        self._probes: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}
        self.probe: Callable[[], Awaitable] = _default_probe

    @property
    def is_down(self) -> bool:
        return self.down_since is not None

    def failed(self, operation: str, exc: BaseException) -> None:
        """Record a call that failed because the layer is unreachable (once-per-outage log)."""
        CHANNEL_LAYER_ERRORS.labels(operation).inc()
        with self._lock:
            self.failures += 1
            self._next_try = time.monotonic() + PROBE_SECONDS[-1]
            if self.down_since is not None:
                return
            self.down_since = time.monotonic()
            try:  # on an event loop: its probe notices the return, waiters or not
                self._ensure_probe(asyncio.get_running_loop())
            except RuntimeError:
                pass  # a thread without a loop: may_try lets a caller probe now and then
        CHANNEL_LAYER_UP.set(0)
        CHANNEL_LAYER_OUTAGES.inc()
        logger.warning(
            "channel layer unreachable (%s: %s): sockets stay open and charging goes on; "
            "commands answer 503 and live updates pause until it is back",
            operation,
            _describe(exc),
        )

    def ok(self) -> None:
        """Record a call that worked: ends an outage and wakes the waiters."""
        if self.down_since is None:
            return
        with self._lock:
            if self.down_since is None:
                return
            lasted, failures = time.monotonic() - self.down_since, self.failures
            self.down_since, self.failures = None, 0
            waiters, self._waiters = self._waiters, {}
        CHANNEL_LAYER_UP.set(1)
        logger.warning(
            "channel layer reachable again after %.1f s (%d failed calls)", lasted, failures
        )
        for loop, event in waiters.items():
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)

    def may_try(self) -> bool:
        """Whether a caller that would only drop its call should try now.

        Up: always. Down: once every PROBE_SECONDS[-1] across the process, so
        that processes without a probe (a Celery worker) notice the return.
        """
        if self.down_since is None:
            return True
        with self._lock:
            now = time.monotonic()
            if now < self._next_try:
                return False
            self._next_try = now + PROBE_SECONDS[-1]
            return True

    async def wait_up(self) -> None:
        """Return once the layer answers again (at once if it is not known down)."""
        while self.down_since is not None:
            loop = asyncio.get_running_loop()
            with self._lock:
                if self.down_since is None:
                    return
                event = self._waiters.setdefault(loop, asyncio.Event())
                self._ensure_probe(loop)
            try:  # wakes at the latest every few seconds, should a probe have died
                await asyncio.wait_for(event.wait(), timeout=PROBE_SECONDS[-1] * 5)
            except TimeoutError:
                pass

    def _ensure_probe(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start this loop's probe unless it runs (call with the lock held)."""
        probe = self._probes.get(loop)
        if probe is None or probe.done():
            self._probes[loop] = loop.create_task(self._probe_until_up())

    async def _probe_until_up(self) -> None:
        attempt = 0
        while self.down_since is not None:
            await asyncio.sleep(PROBE_SECONDS[min(attempt, len(PROBE_SECONDS) - 1)])
            attempt += 1
            try:
                await asyncio.wait_for(self.probe(), timeout=PROBE_TIMEOUT)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                CHANNEL_LAYER_ERRORS.labels("probe").inc()
                logger.debug("channel layer probe failed: %s", _describe(exc))
                continue
            self.ok()

    def reset(self) -> None:
        """Forget any outage (tests)."""
        with self._lock:
            self.down_since, self.failures, self._next_try = None, 0, 0.0
            self._waiters, probes, self._probes = {}, self._probes, {}
        for task in probes.values():
            if not task.get_loop().is_closed():
                task.get_loop().call_soon_threadsafe(task.cancel)
        CHANNEL_LAYER_UP.set(1)


async def _first_done(*futures: asyncio.Future | None) -> None:
    """Wait until one of the futures is done (asyncio.wait without its coroutines)."""
    futures = [f for f in futures if f is not None]
    if any(f.done() for f in futures):
        return
    waiter = asyncio.get_running_loop().create_future()

    def wake(_done: asyncio.Future) -> None:
        if not waiter.done():
            waiter.set_result(None)

    for future in futures:
        future.add_done_callback(wake)
    try:
        await waiter
    finally:
        for future in futures:
            future.remove_done_callback(wake)


async def _default_probe() -> None:
    # Readiness's own check: a connection of its own, never the layer's shared
    # receive path (whose lock the waiting consumers hold).
    from .checks import check_channel_layer

    await check_channel_layer()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


health = ChannelLayerHealth()


async def layer_call(operation: str, call: Callable[[], Awaitable]) -> None:
    """Await one channel-layer call, bounded by OPERATION_TIMEOUT, recording the outcome.

    Raises the layer's error (or TimeoutError) for the caller to degrade.
    """
    try:
        await asyncio.wait_for(call(), timeout=OPERATION_TIMEOUT)
    except Exception as exc:
        if layer_unreachable(exc):
            health.failed(operation, exc)
        raise
    health.ok()


# --- calls nobody waits for -------------------------------------------------------

_main_loop: asyncio.AbstractEventLoop | None = None
_in_flight = 0
_in_flight_lock = threading.Lock()


def remember_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Note the loop that serves this process's sockets (call_soon runs calls there)."""
    global _main_loop
    _main_loop = loop


def call_soon(
    operation: str, call: Callable[[], Awaitable], outcome: Callable[[str], None]
) -> None:
    """Run a channel-layer call without waiting for it; never raises.

    The caller (a commit hook on a writer thread, just before a charge point
    is answered) must not wait for the layer: on an ASGI process the call is
    handed to the loop that serves the sockets; elsewhere (a Celery worker)
    it runs here, bounded by OPERATION_TIMEOUT. While the layer is down, or
    with MAX_CALLS_IN_FLIGHT already pending, it is dropped. `outcome` is
    told "sent", "dropped" (the layer is down or slow) or "failed" (a bug,
    logged), on whichever thread the call ends.
    """
    global _in_flight
    if not health.may_try():
        outcome("dropped")
        return
    with _in_flight_lock:
        if _in_flight >= MAX_CALLS_IN_FLIGHT:
            outcome("dropped")
            return
        _in_flight += 1

    async def run() -> None:
        global _in_flight
        try:
            await layer_call(operation, call)
        except Exception as exc:
            if layer_unreachable(exc):
                outcome("dropped")
            else:
                outcome("failed")
                logger.exception("channel layer call %s failed", operation)
        else:
            outcome("sent")
        finally:
            with _in_flight_lock:
                _in_flight -= 1

    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    loop = _main_loop
    if loop is not None and loop.is_running() and not loop.is_closed():
        if running is loop:
            loop.create_task(run())
        else:
            asyncio.run_coroutine_threadsafe(run(), loop)
        return
    if running is not None:
        # A loop of this thread that is not the server's (a test's, a script's).
        running.create_task(run())
        return
    # No loop serves this process (a worker, a command), or the server's has
    # stopped (shutting down): a loop of its own. Not async_to_sync: from a
    # thread of the stopped server it would wait on that loop for ever.
    asyncio.run(run())


# --- consumers --------------------------------------------------------------------


class ResilientChannelReceiveMixin:
    """A consumer whose channel-layer receive survives an outage of the layer.

    Channels' AsyncConsumer.__call__ awaits the socket and
    `channel_layer.receive(channel_name)` together; an error of the latter
    ends the consumer, and the server closes the socket (1011). Here the
    receive catches an outage instead: it dispatches UNREACHABLE_EVENT to the
    consumer once, waits (without asking Redis: the process's probe does)
    until the layer is back, dispatches RESTORED_EVENT (the consumer joins its
    groups again: a restarted Redis has forgotten them), and receives again.
    Define `channel_layer_unreachable` and `channel_layer_restored`.
    """

    _channel_layer_lost = False

    async def __call__(self, scope, receive, send):
        # AsyncConsumer.__call__ of Channels 4, with the resilient receive.
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.base_send = send
        remember_loop(asyncio.get_running_loop())
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            self.channel_receive = self._resilient_channel_receive
        try:
            if self.channel_layer is None or hasattr(self.channel_layer, "receive_future"):
                await self._dispatch_futures(receive)
            else:
                await await_many_dispatch([receive, self.channel_receive], self.dispatch)
        except StopConsumer:
            pass

    async def _dispatch_futures(self, receive) -> None:
        """Channels' await_many_dispatch without a task per source (issue 22).

        The server's `receive` and the layer's `receive_future` give futures
        (Daphne's through csms_project.daphne_patches); awaiting them directly
        spares the two tasks and the `asyncio.wait` per idle socket that
        await_many_dispatch keeps. Same order and semantics: the socket's
        event first when both are ready, each source asked again once its
        event is dispatched, both cancelled on the way out.
        """
        socket_next = asyncio.ensure_future(receive())
        channel_next = self._channel_next()
        try:
            while True:
                await _first_done(socket_next, channel_next)
                if socket_next.done():
                    message = socket_next.result()
                    socket_next = None
                    await self.dispatch(message)
                    socket_next = asyncio.ensure_future(receive())
                if channel_next is not None and channel_next.done():
                    message = self._channel_result(channel_next)
                    channel_next = None
                    await self.dispatch(message)
                    channel_next = self._channel_next()
        finally:
            for future in (socket_next, channel_next):
                if future is not None and future.cancel():
                    try:
                        await future
                    except asyncio.CancelledError:
                        pass

    def _channel_next(self) -> asyncio.Future | None:
        if self.channel_layer is None:
            return None
        if self._channel_layer_lost:
            return asyncio.ensure_future(self._resilient_channel_receive())
        return self.channel_layer.receive_future(self.channel_name)

    def _channel_result(self, future: asyncio.Future) -> dict:
        """The layer's message, or UNREACHABLE_EVENT once when the layer is down."""
        try:
            return future.result()
        except Exception as exc:
            if not layer_unreachable(exc):
                raise
            health.failed("receive", exc)
            self._channel_layer_lost = True
            return {"type": UNREACHABLE_EVENT}

    async def _resilient_channel_receive(self) -> dict:
        if self._channel_layer_lost:
            await health.wait_up()
            self._channel_layer_lost = False
            return {"type": RESTORED_EVENT}
        try:
            message = await self.channel_layer.receive(self.channel_name)
        except Exception as exc:
            if not layer_unreachable(exc):
                raise
            health.failed("receive", exc)
            self._channel_layer_lost = True
            return {"type": UNREACHABLE_EVENT}
        return message

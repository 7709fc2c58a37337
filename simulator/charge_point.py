"""One simulated charge point: connect, boot, report, heartbeat, charge, reconnect.

Its life outlasts any one connection, as a real charger's does: connectors
keep charging through a dropped connection, transaction messages wait for
the next connection (the start and the stop of a transaction are delivered,
the CSMS deduplicates a retransmitted start), heartbeats and meter values that
fall due while offline are skipped. Handshakes and dropped connections are
retried with full-jitter exponential back-off; a Reset reconnects at once.
What it says is its OCPP version's (`self.dialect`, dialects/): this module
is the same for every version.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable
from functools import partial

# BootNotification, Heartbeat and StatusNotification and the registration
# statuses are spelled the same in 1.6 and 2.0.1.
from ocpp.v16.enums import Action, RegistrationStatus

from . import sessions
from .config import SimulationConfig
from .connection import backoff_delay, failure_reason, open_websocket
from .dialects import dialect_for
from .protocol import CallFailed, ConnectionLost, OcppSocket
from .state import Connector, Dialect, IdTagPool
from .stats import Stats

logger = logging.getLogger(__name__)
# Heartbeat interval until a BootNotification answer names one.
DEFAULT_HEARTBEAT_INTERVAL = 300.0


class SimulatedChargePoint:
    """A charge point of the fleet (it is the `state.ChargePoint` that sessions and answers see)."""

    def __init__(
        self,
        *,
        index: int,
        config: SimulationConfig,
        stats: Stats,
        rng: random.Random,
        pacer=None,
        id_tags: IdTagPool | None = None,
        dialect: Dialect | None = None,
    ) -> None:
        self.config = config
        self.dialect = dialect or dialect_for(config.version_for(index))
        self.stats = stats
        self.rng = rng
        self.pacer = pacer
        self.id_tags = id_tags or IdTagPool(config.all_id_tags())
        self.charge_point_id = config.charge_point_id(index)
        self.password = config.password
        self.connectors = [
            Connector(connector_id=n, register_wh=rng.uniform(0, 1_000_000))
            for n in range(1, config.connectors + 1)
        ]
        self.heartbeat_interval = config.heartbeat_interval or DEFAULT_HEARTBEAT_INTERVAL
        self.meter_interval = config.meter_interval
        self.local_list_version = 0
        # Keys set by ChangeConfiguration that the simulator only remembers.
        self.extra_configuration: dict[str, str] = {}
        self.accepting_sessions = True
        self.socket: OcppSocket | None = None
        # Connected and accepted: CALLs other than BootNotification may go.
        self.ready = asyncio.Event()
        self.session_tasks: set[asyncio.Task] = set()
        self._tasks: set[asyncio.Task] = set()
        self._accepted = asyncio.Event()
        self._rebooting = False
        self.reset_boot = False
        self._attempt = 0

    # --- the connection loop ----------------------------------------------------

    async def run(self) -> None:
        """Live until cancelled: connect, serve, and reconnect after any loss."""
        self.spawn(self._heartbeats())
        for connector in self.connectors:
            self.spawn(sessions.arrivals(self, connector))
        try:
            await self._connection_loop()
        finally:
            tasks = [*self._tasks, *self.session_tasks]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _connection_loop(self) -> None:
        ever_connected = False
        while True:
            try:
                websocket = await open_websocket(
                    self.config,
                    self.charge_point_id,
                    password=self.password,
                    subprotocol=self.dialect.subprotocol,
                )
            except Exception as exc:
                self.stats.handshake_failed(failure_reason(exc))
                logger.debug("%s: handshake failed: %r", self.charge_point_id, exc)
                await asyncio.sleep(self._next_backoff())
                continue
            self.stats.handshake_succeeded(reconnect=ever_connected)
            ever_connected = True
            if await self._serve(websocket):
                self.stats.rebooted()
                continue
            self.stats.connection_dropped()
            await asyncio.sleep(self._next_backoff())

    def _next_backoff(self) -> float:
        delay = backoff_delay(
            self.rng, self._attempt, base=self.config.backoff_base, cap=self.config.backoff_cap
        )
        self._attempt += 1
        return delay

    async def _serve(self, websocket) -> bool:
        """Boot and work on this connection until it ends; True when a Reset ended it."""
        socket = OcppSocket(
            websocket,
            stats=self.stats,
            responder=partial(self.dialect.answer, self),
            call_timeout=self.config.call_timeout,
            spawn=self.spawn,
            version=self.dialect.version,
        )
        reader = asyncio.create_task(socket.read())
        self.socket = socket
        self.stats.connection_opened()
        try:
            if await self._boot(socket, reader):
                self._attempt = 0
                self.reset_boot = False
                self.ready.set()
                await self._announce_statuses()
            try:
                await reader
            except Exception:
                logger.exception("%s: reading the socket failed", self.charge_point_id)
            rebooted, self._rebooting = self._rebooting, False
            return rebooted
        finally:
            self.ready.clear()
            self._accepted.clear()
            self.socket = None
            self.stats.connection_closed()
            reader.cancel()
            await websocket.close()

    async def _boot(self, socket: OcppSocket, reader: asyncio.Task) -> bool:
        """BootNotification until Accepted, waiting the interval a Pending/Rejected names."""
        attempt = 0
        while not self._accepted.is_set():
            try:
                answer = await socket.call(Action.boot_notification, self.boot_payload())
            except ConnectionLost:
                return False
            except CallFailed:  # a CALLERROR or no answer: retry, backing off
                wait = backoff_delay(
                    self.rng, attempt, base=self.config.backoff_base, cap=self.config.backoff_cap
                )
                attempt += 1
            else:
                if self.apply_boot_answer(answer):
                    return True
                interval = answer.get("interval")
                wait = interval if _is_number(interval) and interval > 0 else 60
            # A triggered BootNotification may be accepted meanwhile (see responder).
            accepted = asyncio.create_task(self._accepted.wait())
            await asyncio.wait(
                {reader, accepted}, timeout=wait, return_when=asyncio.FIRST_COMPLETED
            )
            accepted.cancel()
            if reader.done():
                return False
        return True

    def boot_payload(self) -> dict:
        return self.dialect.boot_payload(self)

    def apply_boot_answer(self, answer: dict) -> bool:
        """Take a BootNotification answer's interval; True (and remember it) when Accepted."""
        status = answer.get("status")
        if status != RegistrationStatus.accepted:
            self.stats.boot_not_accepted(str(status))
            return False
        interval = answer.get("interval")
        if self.config.heartbeat_interval is None and _is_number(interval) and interval > 0:
            self.heartbeat_interval = float(interval)
        self._accepted.set()
        return True

    async def _announce_statuses(self) -> None:
        """After each boot: connector 0 (1.6 only), then every connector, as a charger does."""
        await self.send_status(0, self.dialect.available)
        for connector in self.connectors:
            await self.send_status(connector.connector_id, connector.status)

    # --- sending ---------------------------------------------------------------

    async def call(self, action: str, payload: dict, *, deliver: bool = False) -> dict:
        """Send a CALL once accepted; with `deliver`, resend on the next connection if lost."""
        while True:
            await self.ready.wait()
            socket = self.socket
            try:
                return await socket.call(action, payload)
            except ConnectionLost:
                if self.socket is socket:  # not yet noticed by the connection loop
                    self.ready.clear()
                if not deliver:
                    raise

    async def send_status(self, connector_id: int, status: str) -> None:
        """Record a connector's status and report it when online (offline: after boot)."""
        if connector_id > 0:
            self.connectors[connector_id - 1].status = status
        if not self.ready.is_set():
            return
        payload = self.dialect.status_payload(connector_id, status)
        if payload is None:
            return  # a status this version does not report
        try:
            await self.call(Action.status_notification, payload)
        except CallFailed:
            pass  # counted in the stats; a status is not worth a retry

    async def _heartbeats(self) -> None:
        """Heartbeat at the interval (the first at a random offset), or when the pacer says."""
        first = True
        while True:
            if self.pacer is not None:
                await self.ready.wait()
                await self.pacer.turn()
            else:
                interval = self.heartbeat_interval
                await asyncio.sleep(self.rng.uniform(0, interval) if first else interval)
                first = False
            if not self.ready.is_set():
                continue  # offline: nothing to keep alive
            try:
                await self.call(Action.heartbeat, {})
            except CallFailed:
                pass

    # --- tasks, reset and shutdown ---------------------------------------------

    def spawn(self, coroutine: Awaitable[None]) -> asyncio.Task:
        """Run a coroutine alongside, cancelled with the charge point."""
        task = asyncio.ensure_future(self._logged(coroutine))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _logged(self, coroutine: Awaitable[None]) -> None:
        try:
            await coroutine
        except CallFailed:
            pass  # already counted
        except Exception:
            logger.exception("%s: simulation task failed", self.charge_point_id)

    async def reboot(self, reason: str) -> None:
        """After an accepted Reset: end sessions with `reason`, close, reconnect, boot."""
        socket = self.socket
        self._rebooting = True  # no new session from now on
        self.reset_boot = True
        await self.stop_sessions(reason, timeout=self.config.call_timeout)
        if socket is not None and socket is self.socket:
            await socket.close()  # the connection loop reconnects and boots
        else:
            self._rebooting = False  # that connection is gone already: nothing to close

    @property
    def can_start_session(self) -> bool:
        return self.accepting_sessions and not self._rebooting

    async def stop_sessions(self, reason: str, *, timeout: float) -> None:
        """Ask every running session to stop and wait (up to timeout) until they have."""
        for connector in self.connectors:
            connector.request_stop(reason)
        tasks = [task for task in self.session_tasks if not task.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout or None)

    def begin_shutdown(self, reason: str) -> None:
        """Start no new session and end the running ones (the run is over)."""
        self.accepting_sessions = False
        for connector in self.connectors:
            connector.request_stop(reason)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)

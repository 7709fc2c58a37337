"""What sessions and answers work on: connectors, the fleet's id tags, a charge point.

Sessions (sessions.py) and the answers to the CSMS's CALLs (responder.py)
act on a charge point; the charge point (charge_point.py) runs both. They see
it through the `ChargePoint` protocol below rather than the class, and a
charge point's OCPP version through the `Dialect` protocol, so that the
dependencies point one way: charge_point -> dialects -> sessions -> state.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from ocpp.v16.enums import ChargePointStatus

from .config import SimulationConfig
from .protocol import Answer, OcppSocket
from .stats import Stats


@dataclass
class Connector:
    """A connector's state; a session (see sessions.py) owns it while `busy`."""

    connector_id: int
    register_wh: float
    # In the words of the charge point's OCPP version ("Available" in both).
    status: str = ChargePointStatus.available
    operative: bool = True
    busy: bool = False
    # 1.6: the CSMS's integer; 2.0.1: the charge point's own string (a uuid4).
    transaction_id: int | str | None = None
    # 2.0.1: the seqNo of the transaction's next TransactionEvent.
    seq_no: int = 0
    power_w: float = 0.0
    charging_since: float | None = None
    stop_reason: str | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def meter_wh(self, now: float) -> int:
        """The energy register now: it grows with the session's power while charging."""
        if self.charging_since is None:
            return int(self.register_wh)
        return int(self.register_wh + self.power_w * (now - self.charging_since) / 3600)

    def request_stop(self, reason: str) -> bool:
        """Ask the running session to end with this reason; False when none runs."""
        if not self.busy:
            return False
        self.stop_reason = self.stop_reason or reason
        self.stop.set()
        return True


class IdTagPool:
    """The fleet's id tags that are not in a session now (shared by all charge points)."""

    def __init__(self, tags) -> None:
        self._free = list(tags)

    def take(self, rng: random.Random) -> str | None:
        if not self._free:
            return None
        index = rng.randrange(len(self._free))
        self._free[index], self._free[-1] = self._free[-1], self._free[index]
        return self._free.pop()

    def give_back(self, tag: str) -> None:
        self._free.append(tag)


class ChargePoint(Protocol):
    """The part of a simulated charge point that sessions and answers use."""

    config: SimulationConfig
    # This charge point's OCPP version: its messages and answers.
    dialect: Dialect
    charge_point_id: str
    # The counters of its OCPP version (they add up to the fleet's).
    stats: Stats
    rng: random.Random
    id_tags: IdTagPool
    connectors: list[Connector]
    # The connection's socket; None while offline.
    socket: OcppSocket | None
    # Set while connected and accepted: CALLs other than BootNotification may go.
    ready: asyncio.Event
    session_tasks: set[asyncio.Task]
    accepting_sessions: bool
    heartbeat_interval: float
    meter_interval: float
    local_list_version: int
    # Keys set by ChangeConfiguration that the simulator only remembers.
    extra_configuration: dict[str, str]
    password: str | None
    # The next boot follows an accepted Reset (2.0.1 says so in its reason).
    reset_boot: bool

    @property
    def can_start_session(self) -> bool: ...

    async def call(self, action: str, payload: dict, *, deliver: bool = False) -> dict: ...

    async def send_status(self, connector_id: int, status: str) -> None: ...

    async def reboot(self, reason: str) -> None: ...

    def boot_payload(self) -> dict: ...

    def apply_boot_answer(self, answer: dict) -> bool: ...


class Dialect(Protocol):
    """What differs between the OCPP versions a charge point can speak (dialects/).

    One shared instance per version; everything else asks `cp.dialect` and
    holds no version test of its own.
    """

    version: ClassVar[str]
    subprotocol: ClassVar[str]
    # The connector statuses of this version that sessions.py needs.
    available: ClassVar[str] = "Available"
    unavailable: ClassVar[str] = "Unavailable"
    # The stop reason of a run that ends (the same word in both versions).
    local_stop: ClassVar[str] = "Local"

    def boot_payload(self, cp: ChargePoint, *, triggered: bool = False) -> dict:
        """The BootNotification payload (`triggered`: asked for by a TriggerMessage)."""
        ...

    def status_payload(self, connector_id: int, status: str) -> dict | None:
        """The StatusNotification of a connector (0: the charge point), None if not sent."""
        ...

    async def session(
        self, cp: ChargePoint, connector: Connector, *, id_tag: str, remote: dict | None
    ) -> None:
        """Tell one charging session to the CSMS, from authorization to the stop.

        `remote` is the CSMS's remote start request (None for a driver who
        arrived); sessions.py has claimed the connector and frees it afterwards.
        """
        ...

    async def send_periodic_meter_values(self, cp: ChargePoint, connector: Connector) -> None:
        """The meter values due every --meter-interval during a session."""
        ...

    def answer(self, cp: ChargePoint, action: str, payload: dict) -> Answer:
        """The answer to a CALL from the CSMS (never awaits: see protocol.Answer)."""
        ...

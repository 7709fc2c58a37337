"""What sessions and answers work on: connectors, the fleet's id tags, a charge point.

Sessions (sessions.py) and the answers to the CSMS's CALLs (responder.py)
act on a charge point; the charge point (charge_point.py) runs both. They see
it through the `ChargePoint` protocol below rather than the class, so that
the dependencies point one way: charge_point -> dialects -> sessions -> state.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ocpp.v16.enums import ChargePointStatus

from .config import SimulationConfig
from .protocol import OcppSocket
from .stats import Stats

if TYPE_CHECKING:
    from .dialects import Dialect


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

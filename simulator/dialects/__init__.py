"""What differs between the OCPP versions a simulated charge point can speak.

A charge point's life (connecting, booting until accepted, heartbeats,
drivers arriving, reconnecting) is the same in OCPP 1.6 and 2.0.1, and so is
OCPP-J framing; the messages that express it are not. A `Dialect` holds
those: the subprotocol, the BootNotification and StatusNotification
payloads, how one charging session is told to the CSMS (1.6: Authorize,
StartTransaction, MeterValues, StopTransaction; 2.0.1: Authorize and
TransactionEvent Started/Updated/Ended) and the answers to the CSMS's
commands. Everything else (charge_point.py, sessions.py, runner.py) asks
`cp.dialect` and holds no version test of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from ..protocol import Answer
    from ..state import ChargePoint, Connector


class Dialect:
    """One OCPP version as a charge point speaks it (one shared instance per version)."""

    version: ClassVar[str]
    subprotocol: ClassVar[str]
    # How the report names the version.
    title: ClassVar[str]
    # The connector statuses of this version that sessions.py needs.
    available: ClassVar[str] = "Available"
    unavailable: ClassVar[str] = "Unavailable"
    # The stop reason of a run that ends (the same word in both versions).
    local_stop: ClassVar[str] = "Local"

    def boot_payload(self, cp: ChargePoint, *, triggered: bool = False) -> dict:
        """The BootNotification payload (`triggered`: asked for by a TriggerMessage)."""
        raise NotImplementedError

    def status_payload(self, connector_id: int, status: str) -> dict | None:
        """The StatusNotification of a connector (0: the charge point), None if not sent."""
        raise NotImplementedError

    async def session(
        self, cp: ChargePoint, connector: Connector, *, id_tag: str, remote: dict | None
    ) -> None:
        """Tell one charging session to the CSMS, from authorization to the stop.

        `remote` is the CSMS's remote start request (None for a driver who
        arrived); sessions.py has claimed the connector and frees it afterwards.
        """
        raise NotImplementedError

    async def send_periodic_meter_values(self, cp: ChargePoint, connector: Connector) -> None:
        """The meter values due every --meter-interval during a session."""
        raise NotImplementedError

    def answer(self, cp: ChargePoint, action: str, payload: dict) -> Answer:
        """The answer to a CALL from the CSMS (never awaits: see protocol.Answer)."""
        raise NotImplementedError


def dialect_for(version: str) -> Dialect:
    """The dialect of an OCPP version ("1.6" or "2.0.1")."""
    from .ocpp16 import OCPP16
    from .ocpp201 import OCPP201

    return {OCPP16.version: OCPP16, OCPP201.version: OCPP201}[version]

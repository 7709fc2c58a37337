"""What differs between the OCPP versions a simulated charge point can speak.

A charge point's life (connecting, booting until accepted, heartbeats,
drivers arriving, reconnecting) is the same in OCPP 1.6 and 2.0.1, and so is
OCPP-J framing; the messages that express it are not. A dialect (the
`state.Dialect` protocol) holds those: the subprotocol, the BootNotification
and StatusNotification payloads, how one charging session is told to the
CSMS (1.6: Authorize, StartTransaction, MeterValues, StopTransaction; 2.0.1:
Authorize and TransactionEvent Started/Updated/Ended) and the answers to the
CSMS's commands. Per version: `ocppXX_messages.py` builds the payloads,
`ocppXX.py` is the dialect, `ocppXX_answers.py` answers the CSMS.
"""

from __future__ import annotations

from ..state import Dialect
from .ocpp16 import OCPP16
from .ocpp201 import OCPP201

DIALECTS: dict[str, Dialect] = {OCPP16.version: OCPP16, OCPP201.version: OCPP201}


def dialect_for(version: str) -> Dialect:
    """The dialect of an OCPP version ("1.6" or "2.0.1")."""
    return DIALECTS[version]

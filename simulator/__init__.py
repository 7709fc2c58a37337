"""A fleet of simulated OCPP 1.6J and 2.0.1 charge points, for load tests of any CSMS.

`manage.py simulate` is the command line; this package is the library
(docs/SIMULATE.md documents both). It needs no database and no Django
settings beyond importing: it is a client, talks to whatever URL it is given
and imports nothing of the CSMS it tests (only the `ocpp` package's schemas
and enums, websockets and Django). Every charge point is a task on one
asyncio event loop:

- config.py: the options, checked before anything connects;
- connection.py: the WebSocket handshake, failure reasons, back-off;
- frames.py: OCPP-J frames, schema checks and CALLERROR codes (per version);
- protocol.py: OCPP-J on one socket (one CALL in flight, a reader task);
- state.py: connectors, the fleet's id tags, what sessions and answers see of a charge point;
- charge_point.py: one charge point's life (boot, statuses, heartbeats, reconnects);
- sessions.py: drivers arriving, a connector claimed, charging (any version);
- dialects/: what each OCPP version says (the state.Dialect protocol), per
  version the payloads (ocppXX_messages.py), the sessions (ocpp16.py:
  Authorize, StartTransaction, MeterValues, StopTransaction; ocpp201.py:
  Authorize, TransactionEvent Started/Updated/Ended) and the answers to the
  CSMS (ocppXX_answers.py);
- runner.py: the fleet, the ramp, the rate pacer, progress and signals;
- stats.py and report.py: what is counted and how it is reported;
- prepare.py: `manage.py simulate` on this machine asks the project (the
  SIMULATOR_PREPARE setting) to register the fleet's charge points and id tags.
"""

from .config import ConfigError, SimulationConfig
from .report import build_report, format_report
from .runner import Simulation, run_simulation

__all__ = [
    "ConfigError",
    "Simulation",
    "SimulationConfig",
    "build_report",
    "format_report",
    "run_simulation",
]

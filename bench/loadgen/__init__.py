"""OCPP 1.6J / 2.0.1 load generator: N simulated charge points against one server.

Each simulated charge point opens `ws://HOST:PORT/ocpp/<id>` with the
`ocpp1.6` subprotocol, or `ocpp2.0.1` with --ocpp-version 2.0.1 (no
compression, as chargers), sends BootNotification
first, then keeps at most one CALL in flight at a time (OCPP-J allows one per
direction). It answers CALLs from the server at once (Reset and the other
commands: `{"status": "Accepted"}`), so it can also be the target of remote
commands.

Modes (`python -m bench.loadgen MODE --url ws://127.0.0.1:8000/ocpp/ ...`):

  heartbeat  Heartbeat round trips back to back on every connection; with
             --rate R, at a fixed total rate instead (see paced.py).
  durable    StartTransaction, K x MeterValues, StopTransaction cycles; in 2.0.1
             TransactionEvent Started, K x Updated (meter values), Ended.
  idle       connect and boot, then stay silent for --hold seconds.
  storm      connect and boot, drop every socket at once, reconnect all at
             once with jittered exponential back-off; time to all reconnected.
  soak       ramp up, Heartbeat every --interval s per charge point for
             --duration s, reconnect what the server drops; count the losses.

Closed-loop latency runs from just before `send` to the answer's arrival;
fixed-rate latency from the scheduled send time. Only CALLs answered inside
the measurement window (after --warmup; fixed rate: scheduled inside it)
count. Against the bare echo server (bench/echo_server.py) the echoed CALL,
which carries the same uniqueId, is the answer. Progress goes to stderr once
a second, the report (JSON) to stdout or --json.

It sends nothing anywhere but the URL it is given; use 127.0.0.1 targets only
for benchmarks, and every loop is bounded by --duration / --hold / --deadline.
"""

from .chargepoint import ChargePoint, Options, connect_all, raise_nofile
from .closed import run_idle, run_storm, run_traffic
from .paced import period_for, run_paced, run_soak, slots_between
from .stats import Recorder, latency_summary, percentile

__all__ = [
    "ChargePoint",
    "Options",
    "Recorder",
    "connect_all",
    "latency_summary",
    "percentile",
    "period_for",
    "raise_nofile",
    "run_idle",
    "run_paced",
    "run_soak",
    "run_storm",
    "run_traffic",
    "slots_between",
]

"""The fleet's traffic, as plain data: what each charge point sends when, and how the
load generator's counts are checked against the database afterwards.

A charge point (one connector) sends a Heartbeat every `heartbeat_s` from a
random phase and alternates idle gaps and charging sessions. A session is
StatusNotification Preparing, StartTransaction, StatusNotification Charging,
MeterValues every `meter_s`, StopTransaction, StatusNotification Finishing,
then Available; consecutive steps `status_gap_s` apart. Session lengths are
uniform in [0.5, 1.5] x `session_s`, gaps in [0.5, 1.5] x the mean gap
`session_s * (1 - share) / share`, so that on average `charging_share` of
the connectors charge. At the start, that share of the charge points begins
charging within the first `start_spread_s` (a shortened first session), the
others begin idle, part-way through a gap: the fleet reaches its steady
state within that spread instead of a third of it starting at once (which
would be a reconnect storm with sessions, not a fleet's day: at 50,000 and
the default 600 s, about 28 starts/s for ten minutes against 9 later).

With `ocpp201_share` > 0, that share of the charge points (spread evenly over
the indexes, see ocpp_version) speak OCPP 2.0.1 and play the same schedule in
its messages (bench/loadgen/fleet.py): the mix and the rates stay the same.

Everything is derived from (seed, index): the same fleet plays the same
traffic, and the tests check the schedule without a clock.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass

HEARTBEAT = "Heartbeat"
START = "StartTransaction"
METER = "MeterValues"
STOP = "StopTransaction"
PREPARING = "StatusNotification Preparing"
CHARGING = "StatusNotification Charging"
FINISHING = "StatusNotification Finishing"
AVAILABLE = "StatusNotification Available"
SESSION_STEPS = (PREPARING, START, CHARGING)
END_STEPS = (STOP, FINISHING, AVAILABLE)
# Most charge points stay within this many connections per source address
# (127.0.0.x towards one server port: about 28,000 ephemeral ports each).
PER_SOURCE_ADDRESS = 20_000


@dataclass(frozen=True)
class FleetParams:
    heartbeat_s: float = 300.0
    meter_s: float = 60.0
    charging_share: float = 1 / 3
    session_s: float = 1800.0
    status_gap_s: float = 1.0
    start_spread_s: float = 600.0
    seed: int = 1
    ocpp201_share: float = 0.0

    def __post_init__(self):
        if not 0 <= self.ocpp201_share <= 1:
            raise ValueError("ocpp201_share must be between 0 and 1")
        if not 0 < self.charging_share < 1:
            raise ValueError("charging_share must be between 0 and 1 (exclusive)")
        if min(self.heartbeat_s, self.meter_s, self.session_s, self.start_spread_s) <= 0 or (
            self.status_gap_s < 0
        ):
            raise ValueError("intervals must be positive")

    @property
    def gap_s(self) -> float:
        """The mean idle time between two sessions of a connector."""
        return self.session_s * (1 - self.charging_share) / self.charging_share


def ocpp_version(index: int, params: FleetParams) -> str:
    """The OCPP version of charge point `index`: 2.0.1 for every index where the running
    count floor(index x share) steps up, so that any contiguous slice (a load
    generator's) holds the share, within one charge point, interleaved with 1.6."""
    share = params.ocpp201_share
    return "2.0.1" if int((index + 1) * share) > int(index * share) else "1.6"


def _session(start: float, length: float, params: FleetParams) -> list[tuple[float, str]]:
    gap = params.status_gap_s
    events = [(start + i * gap, step) for i, step in enumerate(SESSION_STEPS)]
    charging_from = start + 2 * gap
    end = max(start + length, charging_from + gap)
    t = charging_from + params.meter_s
    while t < end:
        events.append((t, METER))
        t += params.meter_s
    events += [(end + i * gap, step) for i, step in enumerate(END_STEPS)]
    return events


def session_events(index: int, params: FleetParams, horizon: float) -> Iterator[tuple[float, str]]:
    """The session traffic of charge point `index` (seconds from the start), up to horizon.

    A session that would end after the horizon is played up to the horizon
    (it stays open, as a real one would at the end of a measurement).
    """
    rng = random.Random(f"{params.seed}:{index}")
    if rng.random() < params.charging_share:
        start = rng.uniform(0, params.start_spread_s)
        length = rng.uniform(0.1, 1.0) * rng.uniform(0.5, 1.5) * params.session_s
    else:
        start = rng.uniform(0, 1) * rng.uniform(0.5, 1.5) * params.gap_s
        length = rng.uniform(0.5, 1.5) * params.session_s
    while start < horizon:
        events = _session(start, length, params)
        for t, kind in events:
            if t >= horizon:
                return
            yield t, kind
        start = events[-1][0] + rng.uniform(0.5, 1.5) * params.gap_s
        length = rng.uniform(0.5, 1.5) * params.session_s


def heartbeat_events(
    index: int, params: FleetParams, horizon: float
) -> Iterator[tuple[float, str]]:
    rng = random.Random(f"{params.seed}:hb:{index}")
    t = rng.uniform(0, params.heartbeat_s)
    while t < horizon:
        yield t, HEARTBEAT
        t += params.heartbeat_s


def schedule(index: int, params: FleetParams, horizon: float) -> Iterator[tuple[float, str]]:
    """Every CALL charge point `index` sends after its boot, in time order."""
    return heapq.merge(
        session_events(index, params, horizon), heartbeat_events(index, params, horizon)
    )


def expected_rates(connections: int, params: FleetParams) -> dict[str, float]:
    """The fleet's mean msgs/s per action in its steady state (for the report)."""
    cycle = params.session_s + params.gap_s
    sessions_per_s = connections / cycle
    return {
        HEARTBEAT: round(connections / params.heartbeat_s, 2),
        METER: round(connections * params.charging_share / params.meter_s, 2),
        START: round(sessions_per_s, 3),
        STOP: round(sessions_per_s, 3),
        "StatusNotification": round(4 * sessions_per_s, 3),
    }


def split(connections: int, processes: int) -> list[tuple[int, int]]:
    """(first index, count) of each load-generator process: contiguous, near-equal."""
    if processes < 1 or connections < processes:
        raise ValueError("need at least one charge point per load-generator process")
    base, extra = divmod(connections, processes)
    slices, first = [], 0
    for p in range(processes):
        count = base + (1 if p < extra else 0)
        slices.append((first, count))
        first += count
    return slices


def source_addresses(
    slices: list[tuple[int, int]], per_address: int = PER_SOURCE_ADDRESS
) -> list[list[str]]:
    """Loopback source addresses per load-generator process, none shared between
    processes, each carrying at most `per_address` connections (127.0.0.2 up)."""
    result, next_host = [], 2
    for _, count in slices:
        needed = max(1, -(-count // per_address))
        if next_host + needed > 255:
            raise ValueError("more connections than 127.0.0.2-254 can carry")
        result.append([f"127.0.0.{next_host + i}" for i in range(needed)])
        next_host += needed
    return result


def nothing_lost(sent: dict, stored: dict, samples: int) -> dict:
    """Compare what the load generators had answered with what the database holds.

    `sent`: transaction_ids (every StartTransaction answered with a
    transactionId), meter_values_answered (MeterValues answered with a
    CALLRESULT), stops_answered. `stored`: sessions_found (of those ids),
    meter_values_periodic (rows of the fleet's periodic samples),
    sessions_ended. An answered message missing from the database is lost;
    rows beyond what was answered are messages stored whose answer the load
    generator did not get (a socket closed in between): not a loss.
    """
    tx_ids = sent["transaction_ids"]
    expected_rows = sent["meter_values_answered"] * samples
    rows = stored["meter_values_periodic"]
    sessions_lost = len(tx_ids) - stored["sessions_found"]
    rows_lost = max(0, expected_rows - rows)
    stops_lost = max(0, sent["stops_answered"] - stored["sessions_ended"])
    return {
        "sessions_answered": len(tx_ids),
        "duplicate_transaction_ids": len(tx_ids) - len(set(tx_ids)),
        "sessions_found": stored["sessions_found"],
        "sessions_lost": sessions_lost,
        "meter_rows_expected": expected_rows,
        "meter_rows_stored": rows,
        "meter_rows_lost": rows_lost,
        "meter_rows_unanswered_but_stored": max(0, rows - expected_rows),
        "stops_answered": sent["stops_answered"],
        "sessions_ended": stored["sessions_ended"],
        "stops_lost": stops_lost,
        "nothing_lost": sessions_lost == 0
        and rows_lost == 0
        and stops_lost == 0
        and len(tx_ids) == len(set(tx_ids)),
    }


def nothing_lost_by_version(sent: dict, stored: dict, samples: int) -> dict:
    """nothing_lost for each OCPP version the fleet spoke (`sent` and `stored` keyed by
    version; for 2.0.1 a session is a TransactionEvent Started, a MeterValues an
    Updated, a stop an Ended), and whether nothing was lost in any."""
    checks = {version: nothing_lost(sent[version], stored[version], samples) for version in sent}
    return {**checks, "nothing_lost": all(c["nothing_lost"] for c in checks.values())}

"""Charging sessions on one connector: drivers arriving, the connector claimed, charging.

Drivers arrive as a Poisson process (--sessions-per-hour per connector), so
load is bursty the way a real network's is, not a metronome. A session lasts
0.5 to 1.5 times --session-minutes and draws 3.7 to 22 kW; the energy
register only ever grows, so the stop's reading minus the start's is the
energy charged. Each arriving driver carries an id tag that is not charging
elsewhere: a card cannot be at two chargers, and a CSMS refuses it
(ConcurrentTx) when it is. How a session is told to the CSMS is the
charge point's OCPP version's (dialects/); what is common lives here.
"""

from __future__ import annotations

import asyncio
import time

from .state import ChargePoint, Connector

MIN_POWER_W = 3_700.0
MAX_POWER_W = 22_000.0


async def arrivals(cp: ChargePoint, connector: Connector) -> None:
    """Start a session whenever a driver arrives and finds the connector free."""
    per_second = cp.config.sessions_per_hour / 3600
    if per_second <= 0:
        return
    while cp.accepting_sessions:
        await asyncio.sleep(cp.rng.expovariate(per_second))
        if connector.busy or not connector.operative or not cp.ready.is_set():
            continue  # the driver finds it taken, out of order or offline, and leaves
        if not cp.can_start_session:
            continue  # resetting
        id_tag = cp.id_tags.take(cp.rng)
        if id_tag is None:
            cp.stats.session("no_free_id_tag")
            continue
        await start(cp, connector, id_tag=id_tag)


def start(cp: ChargePoint, connector: Connector, *, id_tag: str, remote: dict | None = None):
    """Claim the connector now (no await in between) and run a session on it as a task.

    `remote` is the CSMS's remote start request, None when a driver arrived.
    """
    connector.busy = True
    connector.stop.clear()
    connector.stop_reason = None
    task = asyncio.ensure_future(_session(cp, connector, id_tag=id_tag, remote=remote))
    cp.session_tasks.add(task)
    task.add_done_callback(cp.session_tasks.discard)
    return task


async def _session(cp: ChargePoint, connector: Connector, *, id_tag: str, remote: dict | None):
    try:
        await cp.dialect.session(cp, connector, id_tag=id_tag, remote=remote)
    finally:
        connector.charging_since = None
        connector.transaction_id = None
        connector.busy = False
        if remote is None:
            cp.id_tags.give_back(id_tag)


async def charge(cp: ChargePoint, connector: Connector) -> None:
    """Charge until the session's time is up or a stop is asked; meter values on the way."""
    connector.power_w = cp.rng.uniform(MIN_POWER_W, MAX_POWER_W)
    connector.charging_since = time.monotonic()
    ends_at = connector.charging_since + cp.rng.uniform(0.5, 1.5) * cp.config.session_minutes * 60
    while True:
        remaining = ends_at - time.monotonic()
        if remaining <= 0 or connector.stop.is_set():
            return
        try:
            await asyncio.wait_for(connector.stop.wait(), min(cp.meter_interval, remaining))
            return  # asked to stop
        except TimeoutError:
            pass
        if ends_at - time.monotonic() > 0 and cp.ready.is_set():
            # Counted when it fails; a charger does not resend periodic samples.
            await cp.dialect.send_periodic_meter_values(cp, connector)


def end_charging(connector: Connector) -> int:
    """Stop the energy flow; the register's final reading (Wh)."""
    reading = connector.meter_wh(time.monotonic())
    connector.register_wh = float(reading)
    connector.charging_since = None
    return reading


def idle_status(cp: ChargePoint, connector: Connector) -> str:
    """The status of a connector without a session: Available, or Unavailable if inoperative."""
    return cp.dialect.available if connector.operative else cp.dialect.unavailable

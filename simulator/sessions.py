"""Charging sessions on one connector: arrivals, then Authorize, Start, MeterValues, Stop.

Drivers arrive as a Poisson process (--sessions-per-hour per connector), so
load is bursty the way a real network's is, not a metronome. A session lasts
0.5 to 1.5 times --session-minutes and draws 3.7 to 22 kW; the energy
register only ever grows, so meterStop - meterStart is the energy charged.
Each arriving driver carries an id tag that is not charging elsewhere: a
card cannot be at two chargers, and a CSMS answers ConcurrentTx when it is.
"""

from __future__ import annotations

import asyncio
import time

from ocpp.v16.enums import (
    Action,
    AuthorizationStatus,
    ChargePointStatus,
    Location,
    Measurand,
    ReadingContext,
    Reason,
    UnitOfMeasure,
)

from .protocol import CallFailed, ocpp_now
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
            cp.stats.sessions["no_free_id_tag"] += 1
            continue
        await start(cp, connector, id_tag=id_tag, remote=False)


def start(cp: ChargePoint, connector: Connector, *, id_tag: str, remote: bool):
    """Claim the connector now (no await in between) and run a session on it as a task."""
    connector.busy = True
    connector.stop.clear()
    connector.stop_reason = None
    task = asyncio.ensure_future(_session(cp, connector, id_tag=id_tag, remote=remote))
    cp.session_tasks.add(task)
    task.add_done_callback(cp.session_tasks.discard)
    return task


def _id_tag_status(answer: dict) -> str | None:
    info = answer.get("idTagInfo")
    return info.get("status") if isinstance(info, dict) else None


async def _session(cp: ChargePoint, connector: Connector, *, id_tag: str, remote: bool):
    sessions = cp.stats.sessions
    try:
        # A remote start needs no Authorize (AuthorizeRemoteTxRequests is false).
        if not remote:
            try:
                answer = await cp.call(Action.authorize, {"idTag": id_tag})
            except CallFailed:
                sessions["failed"] += 1
                return
            if _id_tag_status(answer) != AuthorizationStatus.accepted:
                _refused(cp, "Authorize", answer)
                return
        if connector.stop.is_set():  # the run ends or the charger resets: no new transaction
            return
        await cp.send_status(connector.connector_id, ChargePointStatus.preparing)
        payload = {
            "connectorId": connector.connector_id,
            "idTag": id_tag,
            "meterStart": connector.meter_wh(time.monotonic()),
            "timestamp": ocpp_now(),
        }
        try:
            answer = await cp.call(Action.start_transaction, payload, deliver=True)
        except CallFailed:
            sessions["failed"] += 1
            await cp.send_status(connector.connector_id, _idle_status(connector))
            return
        transaction_id = answer.get("transactionId")
        if not isinstance(transaction_id, int) or isinstance(transaction_id, bool):
            sessions["failed"] += 1
            await cp.send_status(connector.connector_id, _idle_status(connector))
            return
        connector.transaction_id = transaction_id
        accepted = _id_tag_status(answer) == AuthorizationStatus.accepted
        if accepted:
            sessions["started"] += 1
            sessions["remote_started"] += remote
            await cp.send_status(connector.connector_id, ChargePointStatus.charging)
            await _charge(cp, connector)
            reason = connector.stop_reason or Reason.local
        else:
            _refused(cp, "StartTransaction", answer)
            reason = Reason.de_authorized  # the CSMS refused the tag: stop at once
        await _stop(cp, connector, id_tag=id_tag, reason=reason, count=accepted)
    finally:
        connector.charging_since = None
        connector.transaction_id = None
        connector.busy = False
        if not remote:
            cp.id_tags.give_back(id_tag)


def _refused(cp: ChargePoint, action: str, answer: dict) -> None:
    cp.stats.sessions["refused"] += 1
    cp.stats.refusals[f"{action}: {_id_tag_status(answer)}"] += 1


async def _charge(cp: ChargePoint, connector: Connector) -> None:
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
            try:
                await cp.call(Action.meter_values, meter_values_payload(connector))
            except CallFailed:
                pass  # counted; a charger does not resend periodic samples


def meter_values_payload(connector: Connector, *, context: str = ReadingContext.sample_periodic):
    """MeterValues of a connector now: the energy register (Wh) and the power (W)."""
    charging = connector.charging_since is not None
    payload = {
        "connectorId": connector.connector_id,
        "meterValue": [
            {
                "timestamp": ocpp_now(),
                "sampledValue": [
                    _sample(
                        str(connector.meter_wh(time.monotonic())),
                        Measurand.energy_active_import_register,
                        UnitOfMeasure.wh,
                        context,
                    ),
                    _sample(
                        str(round(connector.power_w)) if charging else "0",
                        Measurand.power_active_import,
                        UnitOfMeasure.w,
                        context,
                    ),
                ],
            }
        ],
    }
    if connector.transaction_id is not None:
        payload["transactionId"] = connector.transaction_id
    return payload


def _sample(value: str, measurand: str, unit: str, context: str) -> dict:
    return {
        "value": value,
        "context": context,
        "measurand": measurand,
        "location": Location.outlet,
        "unit": unit,
    }


async def _stop(cp: ChargePoint, connector: Connector, *, id_tag: str, reason: str, count: bool):
    now = time.monotonic()
    meter_stop = connector.meter_wh(now)
    connector.register_wh = float(meter_stop)
    connector.charging_since = None
    payload = {
        "transactionId": connector.transaction_id,
        "idTag": id_tag,
        "meterStop": meter_stop,
        "timestamp": ocpp_now(),
        "reason": reason,
    }
    try:
        await cp.call(Action.stop_transaction, payload, deliver=True)
    except CallFailed:
        cp.stats.sessions["stop_failed"] += 1
    else:
        if count:
            cp.stats.sessions["completed"] += 1
            cp.stats.sessions["remote_stopped"] += reason == Reason.remote
    await cp.send_status(connector.connector_id, ChargePointStatus.finishing)
    await cp.send_status(connector.connector_id, _idle_status(connector))


def _idle_status(connector: Connector) -> str:
    if connector.operative:
        return ChargePointStatus.available
    return ChargePointStatus.unavailable

"""Closed-loop modes: every charge point keeps one CALL in flight, back to back,
or stays connected and silent, or drops and reconnects with the others."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter

from ..wsclient import Closed
from .chargepoint import (
    ChargePoint,
    Hook,
    Options,
    close_all,
    connect_all,
    make_cps,
    noop_hook,
    now_iso,
    progress,
)
from .stats import Recorder, latency_summary


async def run_traffic(
    mode: str,
    opts: Options,
    duration: float,
    warmup: float,
    hook: Hook = noop_hook,
    quiet: bool = False,
) -> dict:
    """heartbeat or durable: every charge point keeps one CALL in flight."""
    rec = Recorder()
    cps = make_cps(opts, rec)
    ticker = asyncio.create_task(progress(rec, cps, mode, quiet))
    connected = await connect_all(cps, opts, rec)
    live = [cp for cp in cps if cp.is_open()]
    await hook("connected", {"connected": connected})
    loop = asyncio.get_running_loop()
    end = loop.time() + warmup + duration
    if mode == "heartbeat":
        workers = [asyncio.create_task(_heartbeats(cp, end, rec)) for cp in live]
    elif mode == "durable":
        sessions = _sessions_201 if opts.ocpp_version == "2.0.1" else _sessions
        workers = [
            asyncio.create_task(sessions(cp, end, rec, index, opts.extra))
            for index, cp in enumerate(live)
        ]
    else:
        raise ValueError(mode)
    await asyncio.sleep(warmup)
    rec.start_window()
    await hook("window_start", {})
    await asyncio.sleep(duration)
    rec.stop_window()
    await hook("window_end", {})
    # Let the CALLs in flight finish (a stalled server is cut off after 15 s).
    done, pending = await asyncio.wait(workers, timeout=15)
    for task in pending:
        task.cancel()
    for task in done:
        if task.exception() is not None:
            rec.errors[f"worker: {type(task.exception()).__name__}"] += 1
    lost = sum(1 for cp in live if not cp.is_open())
    ticker.cancel()
    await close_all(cps)
    report = rec.report()
    report.update(
        mode=mode,
        connections=opts.connections,
        connect=connected,
        connections_lost=lost,
        unfinished_workers=len(pending),
    )
    return report


async def _heartbeats(cp: ChargePoint, end: float, rec: Recorder) -> None:
    loop = asyncio.get_running_loop()
    try:
        while loop.time() < end:
            await cp.call("Heartbeat", "{}")
    except Closed:
        rec.errors["connection closed"] += 1


# Energy per MeterValues of a back-to-back session: small enough that a session of a
# few milliseconds stays within the plausibility rules' margin, so that it is billed
# (invoiced by the worker) rather than disputed, as a real session would be.
METER_STEP_WH = 100

_CONSTANT_SAMPLES = [
    '{"value":"11000","measurand":"Power.Active.Import","unit":"W"}',
    '{"value":"16.0","measurand":"Current.Import","unit":"A","phase":"L1"}',
]


async def _sessions(cp: ChargePoint, end: float, rec: Recorder, index: int, extra: dict) -> None:
    """StartTransaction, K MeterValues, StopTransaction, again until the end.

    Payloads are built from string templates: against the echo server the
    client's own JSON encoding would otherwise be the limit.
    """
    loop = asyncio.get_running_loop()
    id_tag = extra.get("id_tag_format", "BENCHTAG{:05d}").format(index)
    meter_values = int(extra.get("meter_values", 5))
    samples = max(1, min(3, int(extra.get("samples", 3))))
    constant = "".join("," + sample for sample in _CONSTANT_SAMPLES[: samples - 1])
    meter = 0
    fake_tx = 0
    try:
        while loop.time() < end:
            answer = await cp.call(
                "StartTransaction",
                f'{{"connectorId":1,"idTag":"{id_tag}","meterStart":{meter},'
                f'"timestamp":"{now_iso()}"}}',
            )
            if answer[0] == 3 and isinstance(answer[2], dict) and "transactionId" in answer[2]:
                tx = answer[2]["transactionId"]
            elif answer[0] == 2:  # the echo server
                fake_tx += 1
                tx = fake_tx
            else:
                rec.errors["StartTransaction without transactionId"] += 1
                continue
            for _ in range(meter_values):
                if loop.time() >= end:
                    break
                meter += METER_STEP_WH
                await cp.call(
                    "MeterValues",
                    f'{{"connectorId":1,"transactionId":{tx},"meterValue":[{{"timestamp":'
                    f'"{now_iso()}","sampledValue":[{{"value":"{meter}","measurand":'
                    f'"Energy.Active.Import.Register","unit":"Wh"}}{constant}]}}]}}',
                )
            meter += METER_STEP_WH // 2
            await cp.call(
                "StopTransaction",
                f'{{"transactionId":{tx},"idTag":"{id_tag}","meterStop":{meter},'
                f'"timestamp":"{now_iso()}","reason":"Local"}}',
            )
    except Closed:
        rec.errors["connection closed"] += 1


_CONSTANT_SAMPLES_201 = [
    '{"value":11000,"measurand":"Power.Active.Import","unitOfMeasure":{"unit":"W"}}',
    '{"value":16.0,"measurand":"Current.Import","unitOfMeasure":{"unit":"A"},"phase":"L1"}',
]


async def _sessions_201(
    cp: ChargePoint, end: float, rec: Recorder, index: int, extra: dict
) -> None:
    """The 2.0.1 equivalent of _sessions: TransactionEvent Started, K x Updated
    (MeterValuePeriodic, the same sampled values), Ended, again until the end.

    The same number of CALLs per session as in 1.6, each committed before its
    answer; recorded as "TransactionEvent Started/Updated/Ended" so that the
    three compare with StartTransaction, MeterValues and StopTransaction.
    The charge point names the transaction (a uuid4), so the echo server
    needs no special case.
    """
    loop = asyncio.get_running_loop()
    id_tag = extra.get("id_tag_format", "BENCHTAG{:05d}").format(index)
    token = f'"idToken":{{"idToken":"{id_tag}","type":"ISO14443"}}'
    meter_values = int(extra.get("meter_values", 5))
    samples = max(1, min(3, int(extra.get("samples", 3))))
    constant = "".join("," + sample for sample in _CONSTANT_SAMPLES_201[: samples - 1])
    meter = 0

    def event(kind: str, trigger: str, seq: int, info: str, rest: str) -> str:
        return (
            f'{{"eventType":"{kind}","timestamp":"{now_iso()}","triggerReason":"{trigger}",'
            f'"seqNo":{seq},"transactionInfo":{{{info}}}{rest}}}'
        )

    def register(value: int, context: str, more: str = "") -> str:
        return (
            f'"meterValue":[{{"timestamp":"{now_iso()}","sampledValue":[{{"value":{value},'
            f'"context":"{context}","measurand":"Energy.Active.Import.Register",'
            f'"unitOfMeasure":{{"unit":"Wh"}}}}{more}]}}]'
        )

    try:
        while loop.time() < end:
            tx = f'"transactionId":"{uuid.uuid4()}"'
            seq = 0
            await cp.call(
                "TransactionEvent",
                event(
                    "Started",
                    "Authorized",
                    seq,
                    f'{tx},"chargingState":"Charging"',
                    f',{token},"evse":{{"id":1,"connectorId":1}},'
                    + register(meter, "Transaction.Begin"),
                ),
                label="TransactionEvent Started",
            )
            for _ in range(meter_values):
                if loop.time() >= end:
                    break
                meter += METER_STEP_WH
                seq += 1
                await cp.call(
                    "TransactionEvent",
                    event(
                        "Updated",
                        "MeterValuePeriodic",
                        seq,
                        f'{tx},"chargingState":"Charging"',
                        "," + register(meter, "Sample.Periodic", constant),
                    ),
                    label="TransactionEvent Updated",
                )
            meter += METER_STEP_WH // 2
            seq += 1
            await cp.call(
                "TransactionEvent",
                event(
                    "Ended",
                    "StopAuthorized",
                    seq,
                    f'{tx},"chargingState":"EVConnected","stoppedReason":"Local"',
                    f",{token}," + register(meter, "Transaction.End"),
                ),
                label="TransactionEvent Ended",
            )
    except Closed:
        rec.errors["connection closed"] += 1


async def run_idle(opts: Options, hold: float, hook: Hook = noop_hook, quiet=False) -> dict:
    """Connect and boot everything, stay silent (answering commands), then close."""
    rec = Recorder()
    cps = make_cps(opts, rec)
    ticker = asyncio.create_task(progress(rec, cps, "idle", quiet))
    connected = await connect_all(cps, opts, rec)
    live = [cp for cp in cps if cp.is_open()]
    for cp in live:
        cp.answering = asyncio.create_task(cp.answer_forever())
    await hook("connected", {"connected": connected, "charge_points": [cp.cp_id for cp in live]})
    rec.start_window()
    await asyncio.sleep(hold)
    await hook("hold_end", {})
    rec.stop_window()
    lost = sum(1 for cp in live if not cp.is_open())
    ticker.cancel()
    await close_all(cps)
    report = rec.report()
    report.update(
        mode="idle", connections=opts.connections, connect=connected, connections_lost=lost
    )
    return report


async def run_storm(opts: Options, deadline: float, hook: Hook = noop_hook, quiet=False) -> dict:
    """All charge points drop at once and reconnect at once, with back-off retries.

    Reconnected means: handshake accepted and a Heartbeat answered on the new
    socket (the charge point is usable again).
    """
    rec = Recorder()
    cps = make_cps(opts, rec)
    ticker = asyncio.create_task(progress(rec, cps, "storm", quiet))
    connected = await connect_all(cps, opts, rec)
    initial_errors = dict(rec.errors)
    rec.errors.clear()
    live = [cp for cp in cps if cp.is_open()]
    await hook("connected", {"connected": connected})
    loop = asyncio.get_running_loop()
    opts.connect_attempts = 10**6  # from now on only the deadline stops retries
    await asyncio.sleep(1.0)

    times: list[float] = []
    failed_cps = 0
    give_up = loop.time() + deadline

    async def reconnect(cp: ChargePoint) -> None:
        nonlocal failed_cps
        cp.failed_attempts = 0
        while True:
            if not await cp.open(deadline=give_up):
                failed_cps += 1
                return
            try:
                answer = await asyncio.wait_for(cp.call("Heartbeat", "{}"), opts.open_timeout)
            except (TimeoutError, Closed) as exc:
                rec.errors[f"first CALL: {type(exc).__name__}"] += 1
                cp.failed_attempts += 1
                cp.abort()
                if loop.time() >= give_up:
                    failed_cps += 1
                    return
                delay = random.uniform(
                    0, min(opts.backoff_cap, opts.backoff_base * 2**cp.failed_attempts)
                )
                await asyncio.sleep(delay)
                continue
            if answer[0] == 4:
                rec.errors[f"first CALL: CALLERROR {answer[2]}"] += 1
            times.append(time.perf_counter() - dropped_at)
            return

    rec.start_window()
    dropped_at = time.perf_counter()
    for cp in live:
        cp.abort()
    await asyncio.gather(*(reconnect(cp) for cp in live))
    all_back = time.perf_counter() - dropped_at
    rec.stop_window()
    attempts = Counter(cp.failed_attempts for cp in live)
    await hook("reconnected", {})
    lost_after = sum(1 for cp in live if not cp.is_open())
    ticker.cancel()
    await close_all(cps)
    return {
        "mode": "storm",
        "connections": opts.connections,
        "connect": connected,
        "initial_connect_errors": initial_errors,
        "dropped": len(live),
        "reconnected": len(times),
        "never_reconnected": failed_cps,
        "seconds_to_all_reconnected": round(all_back, 3),
        "reconnect_time": {
            k.replace("_ms", "_s"): (round(v / 1000, 3) if isinstance(v, float) else v)
            for k, v in latency_summary([t * 1000 for t in times]).items()
        },
        "failed_attempts": sum(rec.errors.values()),
        "failed_attempts_by_reason": dict(rec.errors),
        "charge_points_by_failed_attempts": dict(sorted(attempts.items())),
        "closed_after_reconnect": lost_after,
    }

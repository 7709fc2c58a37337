"""Fixed-rate modes: each charge point sends on its own schedule, whatever the answers.

A closed loop (one CALL, wait, the next) slows down with the server and so
hides its stalls: the CALLs it would have sent meanwhile are never sent, never
late (coordinated omission). Here each charge point sends a Heartbeat every
`period` seconds from a random phase, so that the total is the asked rate,
and its latency runs from the *scheduled* send time: a CALL held back because
the previous answer was late (OCPP-J allows one CALL in flight) counts with
that wait. The send-to-answer time alone is reported apart (`service_latency`).

`run_paced` measures a window of a fixed rate; `run_soak` connects many charge
points (ramp limited by connect_concurrency), keeps them heartbeating at a
charger-like interval, and reconnects those the server drops, counting them.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from array import array
from collections import Counter

from ..wsclient import Closed
from .chargepoint import (
    ChargePoint,
    Hook,
    Options,
    close_all,
    connect_all,
    connect_one,
    make_cps,
    noop_hook,
    progress,
)
from .stats import Recorder, latency_summary

CALL_TIMEOUT = 60.0  # a Heartbeat unanswered this long is counted and given up
IN_FLIGHT_GRACE = 15.0  # after the window, how long CALLs already sent may take


def period_for(rate: float, connections: int) -> float:
    """Seconds between two sends of one charge point, for `rate` msgs/s in all."""
    if rate <= 0 or connections <= 0:
        raise ValueError("rate and connections must be positive")
    return connections / rate


def slots_between(first: float, period: float, t0: float, t1: float) -> int:
    """How many of the times first + k * period (k = 0, 1, ...) fall in [t0, t1)."""
    if t1 <= t0:
        return 0
    lo = max(0, math.ceil((t0 - first) / period))
    hi = max(0, math.ceil((t1 - first) / period))
    return max(0, hi - lo)


def next_slot(first: float, period: float, now: float) -> int:
    """The index k of the first time first + k * period at or after `now`."""
    return max(0, math.ceil((now - first) / period))


class LoopLag:
    """How late this process's event loop wakes up: the load generator's own limit.

    A loaded load generator sends late; that lateness is in the latencies
    measured from the schedule, and this says how much of it is ours.
    """

    def __init__(self, every: float = 0.05):
        self.every = every
        self.values = array("d")
        self.task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.every)
            self.values.append((time.perf_counter() - before - self.every) * 1000)

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    def stop(self) -> dict:
        if self.task is not None:
            self.task.cancel()
        return latency_summary(self.values)


async def _sleep_until(when: float) -> None:
    delay = when - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)


async def _paced(cp: ChargePoint, first: float, period: float, w0: float, w1: float) -> None:
    """Heartbeats at first, first + period, ... before w1; measured when due in [w0, w1)."""
    k = 0
    while True:
        due = first + k * period
        if due >= w1:
            return
        await _sleep_until(due)
        await cp.call("Heartbeat", "{}", scheduled=due, in_window=w0 <= due)
        k += 1


async def run_paced(
    opts: Options,
    rate: float,
    duration: float,
    warmup: float,
    hook: Hook = noop_hook,
    quiet: bool = False,
) -> dict:
    """Heartbeats at a fixed total rate over every connection; latency from the schedule."""
    rec = Recorder()
    cps = make_cps(opts, rec)
    seen = {"phase": "connecting"}
    ticker = asyncio.create_task(progress(rec, cps, "paced", quiet, seen))
    connected = await connect_all(cps, opts, rec)
    live = [cp for cp in cps if cp.is_open()]
    await hook("connected", {"connected": connected})
    if not live:
        ticker.cancel()
        raise RuntimeError("no connection could be opened")
    period = period_for(rate, len(live))
    rng = random.Random(opts.extra.get("seed"))
    lag = LoopLag()
    lag.start()
    base = time.perf_counter() + 0.05
    w0, w1 = base + warmup, base + warmup + duration
    firsts = [base + rng.uniform(0, period) for _ in live]
    rec.window_start, rec.window_end = w0, w1
    seen["phase"] = "warm-up"
    workers = [
        asyncio.create_task(_paced(cp, first, period, w0, w1))
        for cp, first in zip(live, firsts, strict=True)
    ]
    await _sleep_until(w0)
    seen["phase"] = "measuring"
    await hook("window_start", {})
    await _sleep_until(w1)
    await hook("window_end", {})
    seen["phase"] = "finishing"
    done, pending = await asyncio.wait(workers, timeout=IN_FLIGHT_GRACE)
    for task in pending:
        task.cancel()
    for task in done:
        exc = task.exception()
        if isinstance(exc, Closed):
            rec.errors["connection closed"] += 1
        elif exc is not None:
            rec.errors[f"worker: {type(exc).__name__}"] += 1
    lost = sum(1 for cp in live if not cp.is_open())
    ticker.cancel()
    loop_lag = lag.stop()
    await close_all(cps)
    report = rec.report()
    scheduled = sum(slots_between(first, period, w0, w1) for first in firsts)
    report.update(
        mode="paced",
        connections=opts.connections,
        connect=connected,
        connections_lost=lost,
        target_msgs_per_s=rate,
        period_s=round(period, 4),
        scheduled_in_window=scheduled,
        unanswered=max(0, scheduled - report["msgs"]),
        unfinished_workers=len(pending),
        loadgen_loop_lag=loop_lag,
    )
    return report


async def run_soak(
    opts: Options,
    duration: float,
    interval: float,
    hook: Hook = noop_hook,
    quiet: bool = False,
) -> dict:
    """Ramp up every charge point, heartbeat each every `interval` s for `duration` s.

    A charge point starts heartbeating as soon as it is booted, so that the
    ramp also carries traffic. The hold begins once every charge point has
    connected (or given up). A socket found closed (by the server, or an
    error) is counted as lost, in the ramp or the hold, and the charge point
    reconnects with back-off and boots again, as a charger would; its schedule
    resumes at its next slot. Sockets found closed when the hold ends count as
    lost in the hold too.
    """
    rec = Recorder()
    cps = make_cps(opts, rec)
    seen: dict = {"phase": "ramp-up"}
    ticker = asyncio.create_task(progress(rec, cps, "soak", quiet, seen))
    gate = asyncio.Semaphore(opts.connect_concurrency)
    rejected: Counter = Counter()
    lost = {"ramp": Counter(), "hold": Counter()}
    counts = Counter()
    window = {"start": math.inf, "end": math.inf}
    ramp_done = asyncio.Event()
    in_call: set[ChargePoint] = set()
    down: set[ChargePoint] = set()  # lost and counted, not back (yet)
    rng = random.Random(opts.extra.get("seed"))

    def connect_finished() -> None:
        counts["ramp_finished"] += 1
        if counts["ramp_finished"] == len(cps):
            ramp_done.set()

    async def reconnect(cp: ChargePoint) -> bool:
        cp.abort()
        while time.perf_counter() < window["end"]:
            if await connect_one(cp, opts, rejected):
                counts["reconnects"] += 1
                down.discard(cp)
                return True
            counts["reconnect_failures"] += 1
        return False

    async def life(cp: ChargePoint) -> None:
        async with gate:
            ok = await connect_one(cp, opts, rejected)
        connect_finished()
        if not ok:
            counts["connect_failed"] += 1
            return
        first = time.perf_counter() + rng.uniform(0, interval)
        k = 0
        while True:
            due = first + k * interval
            if due >= window["end"]:
                return
            await _sleep_until(due)
            if due >= window["end"]:
                return
            in_call.add(cp)
            try:
                await asyncio.wait_for(
                    cp.call("Heartbeat", "{}", scheduled=due, in_window=due >= window["start"]),
                    CALL_TIMEOUT,
                )
            except TimeoutError:
                rec.errors[f"Heartbeat unanswered after {CALL_TIMEOUT:g} s"] += 1
            except Closed:
                phase = "hold" if time.perf_counter() >= window["start"] else "ramp"
                lost[phase][_loss_reason(cp)] += 1
                down.add(cp)
                if not await reconnect(cp):
                    return
                k = next_slot(first, interval, time.perf_counter())
                continue
            finally:
                in_call.discard(cp)
            k += 1

    lag = LoopLag()
    lag.start()
    started = time.perf_counter()
    tasks = [asyncio.create_task(life(cp)) for cp in cps]
    await ramp_done.wait()
    ramp_s = time.perf_counter() - started
    connected = sum(1 for cp in cps if cp.is_open())
    seen["peak_open"] = max(seen.get("peak_open", 0), connected)
    await hook("connected", {"connected": connected})
    window["start"] = rec.window_start = time.perf_counter()
    seen["phase"] = "hold"
    await hook("window_start", {})
    await asyncio.sleep(duration)
    window["end"] = rec.window_end = time.perf_counter()
    open_at_end = sum(1 for cp in cps if cp.is_open())
    seen["peak_open"] = max(seen.get("peak_open", 0), open_at_end)
    await hook("hold_end", {"open": open_at_end})
    seen["phase"] = "finishing"
    grace_end = time.perf_counter() + IN_FLIGHT_GRACE
    while in_call and time.perf_counter() < grace_end:
        await asyncio.sleep(0.1)
    unanswered_at_end = len(in_call)
    for task in tasks:
        task.cancel()
    for outcome in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(outcome, Exception):  # not a cancellation: a failure of ours to count
            rec.errors[f"charge point task: {type(outcome).__name__}"] += 1
    # Closed since its last Heartbeat, not yet noticed: lost in the hold too.
    unnoticed = [cp for cp in cps if cp.ws is not None and not cp.is_open() and cp not in down]
    for cp in unnoticed:
        lost["hold"][_loss_reason(cp) + " (found at the end)"] += 1
    ticker.cancel()
    loop_lag = lag.stop()
    await close_all(cps)
    report = rec.report()
    report.update(
        mode="soak",
        connections=opts.connections,
        interval_s=interval,
        target_msgs_per_s=round(opts.connections / interval, 1),
        connect={
            "connected": connected,
            "failed": counts["connect_failed"],
            "seconds": round(ramp_s, 2),
            "boot_problems": dict(rejected),
        },
        peak_open=seen.get("peak_open"),
        open_at_end=open_at_end,
        lost_during_ramp=dict(lost["ramp"]),
        lost_during_hold=dict(lost["hold"]),
        connections_lost=sum(lost["hold"].values()),
        reconnects=counts["reconnects"],
        reconnect_failures=counts["reconnect_failures"],
        still_down_at_end=len(down),
        unanswered_at_end=unanswered_at_end,
        loadgen_loop_lag=loop_lag,
    )
    return report


def _loss_reason(cp: ChargePoint) -> str:
    code = cp.close_code()
    if code in (None, 1006):
        return "dropped (no close frame)"
    return f"closed by the server ({code})"

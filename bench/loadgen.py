"""OCPP 1.6J load generator: N simulated charge points against one server.

Each simulated charge point opens `ws://HOST:PORT/ocpp/<id>` with the
`ocpp1.6` subprotocol (no compression, as chargers), sends BootNotification
first, then keeps exactly one CALL in flight at a time (OCPP-J allows one per
direction). It answers CALLs from the server at once (Reset and the other
commands: `{"status": "Accepted"}`), so it can also be the target of remote
commands.

Modes (`python -m bench.loadgen MODE --url ws://127.0.0.1:8000/ocpp/ ...`):

  heartbeat  Heartbeat round trips back to back on every connection.
  durable    StartTransaction, K x MeterValues, StopTransaction cycles.
  idle       connect and boot, then stay silent for --hold seconds.
  storm      connect and boot, drop every socket at once, reconnect all at
             once with jittered exponential back-off; time to all reconnected.

Latency is measured from just before `send` to the answer's arrival; only
CALLs answered inside the measurement window (after --warmup) count. Against
the bare echo server (bench/echo_server.py) the echoed CALL, which carries
the same uniqueId, is the answer. Progress goes to stderr once a second, the
report (JSON) to stdout or --json.

It sends nothing anywhere but the URL it is given; use 127.0.0.1 targets only
for benchmarks, and every loop is bounded by --duration / --hold / --deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import sys
import time
from array import array
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .wsclient import OPENERS, Closed, HandshakeFailed

SUBPROTOCOL = "ocpp1.6"
BOOT_PAYLOAD = json.dumps(
    {"chargePointVendor": "Bench", "chargePointModel": "LoadGen", "firmwareVersion": "1.0"}
)
# What a simulated charge point answers to a CALL from the Central System.
ANSWERS = {
    "GetConfiguration": {"configurationKey": []},
    "GetLocalListVersion": {"listVersion": 0},
    "UnlockConnector": {"status": "Unlocked"},
    "GetDiagnostics": {},
    "UpdateFirmware": {},
}
DEFAULT_ANSWER = {"status": "Accepted"}


_now_cache = [0.0, ""]


def now_iso() -> str:
    """The current UTC time in OCPP form, to the millisecond (cached for 1 ms)."""
    now = time.time()
    if now - _now_cache[0] >= 0.001:
        stamp = datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")
        _now_cache[0], _now_cache[1] = now, stamp.replace("+00:00", "Z")
    return _now_cache[1]


def percentile(sorted_values, q: float) -> float | None:
    """Nearest-rank percentile of an already sorted sequence."""
    if not sorted_values:
        return None
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


def latency_summary(values) -> dict:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}
    return {
        "n": len(ordered),
        "p50_ms": round(percentile(ordered, 50), 3),
        "p95_ms": round(percentile(ordered, 95), 3),
        "p99_ms": round(percentile(ordered, 99), 3),
        "max_ms": round(ordered[-1], 3),
        "mean_ms": round(sum(ordered) / len(ordered), 3),
    }


class Recorder:
    """Counts and latencies; only what completes inside the window is measured."""

    def __init__(self) -> None:
        self.measuring = False
        self.window_start = self.window_end = None
        self.latencies: dict[str, array] = {}
        self.window_count: Counter = Counter()
        self.total_count: Counter = Counter()
        self.call_errors: Counter = Counter()
        self.errors: Counter = Counter()
        self.server_calls: Counter = Counter()
        self.done = 0

    def record(self, action: str, seconds: float, error_code: str | None) -> None:
        self.done += 1
        self.total_count[action] += 1
        if error_code is not None:
            self.call_errors[f"{action}:{error_code}"] += 1
        if self.measuring:
            self.window_count[action] += 1
            values = self.latencies.get(action)
            if values is None:
                values = self.latencies[action] = array("d")
            values.append(seconds * 1000.0)

    def start_window(self) -> None:
        self.measuring = True
        self.window_start = time.perf_counter()

    def stop_window(self) -> None:
        self.measuring = False
        self.window_end = time.perf_counter()

    def report(self) -> dict:
        seconds = (self.window_end or time.perf_counter()) - (self.window_start or 0)
        everything = array("d")
        by_action = {}
        for action, values in self.latencies.items():
            everything.extend(values)
            by_action[action] = {
                "msgs_per_s": round(len(values) / seconds, 1) if seconds > 0 else None,
                **latency_summary(values),
            }
        total = sum(self.window_count.values())
        return {
            "window_s": round(seconds, 3),
            "msgs": total,
            "msgs_per_s": round(total / seconds, 1) if seconds > 0 else None,
            "latency": latency_summary(everything),
            "by_action": by_action,
            "call_errors": dict(self.call_errors),
            "errors": dict(self.errors),
            "server_calls": dict(self.server_calls),
        }


@dataclass
class Options:
    url: str  # ws://127.0.0.1:8000/ocpp/  (the charge point id is appended)
    connections: int = 100
    id_prefix: str = "BENCH-"
    connect_concurrency: int = 100
    connect_attempts: int = 8
    open_timeout: float = 10.0
    backoff_base: float = 0.25
    backoff_cap: float = 8.0
    boot: bool = True
    client: str = "lean"  # or "websockets" (see wsclient.py)
    extra: dict = field(default_factory=dict)


class ChargePoint:
    """One simulated charge point: one socket, one CALL in flight."""

    __slots__ = ("cp_id", "url", "rec", "ws", "seq", "answering", "opts", "failed_attempts")

    def __init__(self, cp_id: str, opts: Options, rec: Recorder):
        self.cp_id = cp_id
        self.url = opts.url + cp_id
        self.opts = opts
        self.rec = rec
        self.ws = None
        self.seq = 0
        self.answering: asyncio.Task | None = None
        self.failed_attempts = 0

    async def open(self, deadline: float | None = None) -> bool:
        """Handshake, retrying with full-jitter exponential back-off."""
        loop = asyncio.get_running_loop()
        opener = OPENERS[self.opts.client]
        attempt = 0
        while True:
            try:
                self.ws = await opener(self.url, SUBPROTOCOL, self.opts.open_timeout)
                if self.ws.subprotocol != SUBPROTOCOL:
                    self.rec.errors["handshake: no ocpp1.6 subprotocol"] += 1
                return True
            except HandshakeFailed as exc:
                reason = f"handshake: HTTP {exc.status}"
            except TimeoutError:
                reason = "handshake: timeout"
            except Exception as exc:  # refused, reset, ...
                reason = f"handshake: {type(exc).__name__}"
            self.rec.errors[reason] += 1
            self.failed_attempts += 1
            attempt += 1
            if attempt >= self.opts.connect_attempts:
                return False
            delay = random.uniform(
                0, min(self.opts.backoff_cap, self.opts.backoff_base * 2**attempt)
            )
            if deadline is not None and loop.time() + delay > deadline:
                return False
            await asyncio.sleep(delay)

    async def call(self, action: str, payload_json: str) -> list:
        """Send one CALL and wait for its answer (a CALLRESULT, CALLERROR or the echo)."""
        self.seq += 1
        uid = str(self.seq)
        frame = f'[2,"{uid}","{action}",{payload_json}]'
        started = time.perf_counter()
        await self.ws.send(frame)
        while True:
            message = json.loads(await self.ws.recv())
            if message[1] == uid:
                break
            if message[0] == 2:  # a command from the server while we wait
                await self._answer(message)
        elapsed = time.perf_counter() - started
        self.rec.record(action, elapsed, message[2] if message[0] == 4 else None)
        return message

    async def _answer(self, message: list) -> None:
        action = message[2]
        self.rec.server_calls[action] += 1
        answer = ANSWERS.get(action, DEFAULT_ANSWER)
        await self.ws.send(json.dumps([3, message[1], answer], separators=(",", ":")))

    async def answer_forever(self) -> None:
        """Idle charge point: answer the server's CALLs until the socket closes."""
        try:
            while True:
                message = json.loads(await self.ws.recv())
                if message[0] == 2:
                    await self._answer(message)
        except Closed:
            pass

    async def boot(self) -> bool:
        message = await self.call("BootNotification", BOOT_PAYLOAD)
        if message[0] == 3 and isinstance(message[2], dict):
            return message[2].get("status") == "Accepted"
        return message[0] == 2  # the echo server

    def is_open(self) -> bool:
        return self.ws is not None and self.ws.is_open

    async def close(self) -> None:
        if self.answering is not None:
            self.answering.cancel()
        if self.ws is not None:
            await self.ws.close()

    def abort(self) -> None:
        """Drop the socket as a lost network would: no closing handshake."""
        if self.answering is not None:
            self.answering.cancel()
        if self.ws is not None:
            self.ws.abort()


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def progress(rec: Recorder, cps: list[ChargePoint], label: str, quiet: bool) -> None:
    last, last_t = rec.done, time.perf_counter()
    while True:
        await asyncio.sleep(1.0)
        now = time.perf_counter()
        rate = (rec.done - last) / (now - last_t)
        last, last_t = rec.done, now
        if not quiet:
            open_count = sum(1 for cp in cps if cp.is_open())
            errors = sum(rec.errors.values()) + sum(rec.call_errors.values())
            window = "measuring" if rec.measuring else "warm-up"
            print(
                f"[{label}] {open_count} open, {rate:,.0f} msgs/s, {errors} errors ({window})",
                file=sys.stderr,
                flush=True,
            )


async def connect_all(cps: list[ChargePoint], opts: Options, rec: Recorder) -> dict:
    """Open and boot every charge point, at most connect_concurrency at a time."""
    gate = asyncio.Semaphore(opts.connect_concurrency)
    rejected = Counter()

    async def one(cp: ChargePoint) -> bool:
        async with gate:
            if not await cp.open():
                return False
            if opts.boot:
                try:
                    accepted = await cp.boot()
                except Closed:
                    rejected["closed during boot"] += 1
                    return False
                if not accepted:
                    rejected["boot not accepted"] += 1
            return True

    started = time.perf_counter()
    results = await asyncio.gather(*(one(cp) for cp in cps))
    return {
        "connected": sum(results),
        "failed": len(results) - sum(results),
        "seconds": round(time.perf_counter() - started, 2),
        "boot_problems": dict(rejected),
    }


Hook = Callable[[str, dict], Awaitable[None]]


async def _noop_hook(event: str, info: dict) -> None:
    return None


def make_cps(opts: Options, rec: Recorder) -> list[ChargePoint]:
    return [ChargePoint(f"{opts.id_prefix}{i:05d}", opts, rec) for i in range(opts.connections)]


async def close_all(cps: list[ChargePoint]) -> None:
    for start in range(0, len(cps), 500):
        await asyncio.gather(*(cp.close() for cp in cps[start : start + 500]))


async def run_traffic(
    mode: str,
    opts: Options,
    duration: float,
    warmup: float,
    hook: Hook = _noop_hook,
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
        workers = [
            asyncio.create_task(_sessions(cp, end, rec, index, opts.extra))
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
                meter += 1000
                await cp.call(
                    "MeterValues",
                    f'{{"connectorId":1,"transactionId":{tx},"meterValue":[{{"timestamp":'
                    f'"{now_iso()}","sampledValue":[{{"value":"{meter}","measurand":'
                    f'"Energy.Active.Import.Register","unit":"Wh"}}{constant}]}}]}}',
                )
            meter += 500
            await cp.call(
                "StopTransaction",
                f'{{"transactionId":{tx},"idTag":"{id_tag}","meterStop":{meter},'
                f'"timestamp":"{now_iso()}","reason":"Local"}}',
            )
    except Closed:
        rec.errors["connection closed"] += 1


async def run_idle(opts: Options, hold: float, hook: Hook = _noop_hook, quiet=False) -> dict:
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


async def run_storm(opts: Options, deadline: float, hook: Hook = _noop_hook, quiet=False) -> dict:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="OCPP 1.6J load generator", formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=["heartbeat", "durable", "idle", "storm"])
    parser.add_argument("--url", default="ws://127.0.0.1:8000/ocpp/", help="id is appended")
    parser.add_argument("-c", "--connections", type=int, default=100)
    parser.add_argument("-d", "--duration", type=float, default=20.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--hold", type=float, default=10.0, help="idle: seconds to stay connected")
    parser.add_argument("--deadline", type=float, default=60.0, help="storm: give up after")
    parser.add_argument("--id-prefix", default="BENCH-")
    parser.add_argument("--connect-concurrency", type=int, default=100)
    parser.add_argument("--meter-values", type=int, default=5, help="durable: per session")
    parser.add_argument("--samples", type=int, default=3, help="durable: sampled values (1-3)")
    parser.add_argument("--id-tag-format", default="BENCHTAG{:05d}", help="durable: per index")
    parser.add_argument("--client", choices=sorted(OPENERS), default="lean")
    parser.add_argument("--json", help="write the report here instead of stdout")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)

    raise_nofile()
    opts = Options(
        url=args.url,
        connections=args.connections,
        id_prefix=args.id_prefix,
        connect_concurrency=args.connect_concurrency,
        client=args.client,
        extra={
            "meter_values": args.meter_values,
            "samples": args.samples,
            "id_tag_format": args.id_tag_format,
        },
    )
    if args.mode in ("heartbeat", "durable"):
        coro = run_traffic(args.mode, opts, args.duration, args.warmup, quiet=args.quiet)
    elif args.mode == "idle":
        coro = run_idle(opts, args.hold, quiet=args.quiet)
    else:
        coro = run_storm(opts, args.deadline, quiet=args.quiet)
    cpu_before = os.times()
    report = asyncio.run(coro)
    cpu_after = os.times()
    report["loadgen_cpu_s"] = round(
        (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system), 2
    )
    text = json.dumps(report, indent=2)
    if args.json:
        with open(args.json, "w") as out:
            out.write(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""One simulated charge point, and opening, booting and closing many of them."""

from __future__ import annotations

import asyncio
import json
import random
import resource
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..wsclient import OPENERS, Closed, HandshakeFailed
from .stats import Recorder

SUBPROTOCOL = "ocpp1.6"
SUBPROTOCOLS = {"1.6": SUBPROTOCOL, "2.0.1": "ocpp2.0.1"}
BOOT_PAYLOAD = json.dumps(
    {"chargePointVendor": "Bench", "chargePointModel": "LoadGen", "firmwareVersion": "1.0"}
)
BOOT_PAYLOADS = {
    "1.6": BOOT_PAYLOAD,
    "2.0.1": json.dumps(
        {
            "reason": "PowerUp",
            "chargingStation": {
                "vendorName": "Bench",
                "model": "LoadGen",
                "firmwareVersion": "1.0",
            },
        }
    ),
}
# What a simulated charge point answers to a CALL from the Central System.
ANSWERS = {
    "GetConfiguration": {"configurationKey": []},
    "GetLocalListVersion": {"listVersion": 0},
    "UnlockConnector": {"status": "Unlocked"},
    "GetDiagnostics": {},
    "UpdateFirmware": {},
}
DEFAULT_ANSWER = {"status": "Accepted"}
# The 2.0.1 commands whose answer is not {"status": "Accepted"}.
ANSWERS_201 = {
    "GetVariables": {"getVariableResult": []},
    "SetVariables": {"setVariableResult": []},
    "UnlockConnector": {"status": "Unlocked"},
    "GetTransactionStatus": {"messagesInQueue": False},
}
ANSWERS_BY_VERSION = {"1.6": ANSWERS, "2.0.1": ANSWERS_201}
NOFILE_WANTED = 65536

_now_cache = [0.0, ""]


def now_iso() -> str:
    """The current UTC time in OCPP form, to the millisecond (cached for 1 ms)."""
    now = time.time()
    if now - _now_cache[0] >= 0.001:
        stamp = datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")
        _now_cache[0], _now_cache[1] = now, stamp.replace("+00:00", "Z")
    return _now_cache[1]


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
    ocpp_version: str = "1.6"  # or "2.0.1": the subprotocol offered and the messages sent
    extra: dict = field(default_factory=dict)

    @property
    def subprotocol(self) -> str:
        return SUBPROTOCOLS[self.ocpp_version]


class ChargePoint:
    """One simulated charge point: one socket, one CALL in flight."""

    __slots__ = (
        "cp_id",
        "url",
        "rec",
        "ws",
        "seq",
        "answering",
        "opts",
        "failed_attempts",
        "local_host",
    )

    def __init__(self, cp_id: str, opts: Options, rec: Recorder):
        self.cp_id = cp_id
        self.url = opts.url + cp_id
        self.opts = opts
        self.rec = rec
        self.ws = None
        self.seq = 0
        self.answering: asyncio.Task | None = None
        self.failed_attempts = 0
        self.local_host: str | None = None  # source address (lean client only)

    async def open(self, deadline: float | None = None) -> bool:
        """Handshake, retrying with full-jitter exponential back-off."""
        loop = asyncio.get_running_loop()
        opener = OPENERS[self.opts.client]
        subprotocol = self.opts.subprotocol
        attempt = 0
        while True:
            try:
                if self.local_host:
                    self.ws = await opener(
                        self.url, subprotocol, self.opts.open_timeout, self.local_host
                    )
                else:
                    self.ws = await opener(self.url, subprotocol, self.opts.open_timeout)
                if self.ws.subprotocol != subprotocol:
                    self.rec.errors[f"handshake: no {subprotocol} subprotocol"] += 1
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

    async def call(
        self,
        action: str,
        payload_json: str,
        scheduled: float | None = None,
        in_window: bool | None = None,
        label: str | None = None,
    ) -> list:
        """Send one CALL and wait for its answer (a CALLRESULT, CALLERROR or the echo).

        With `scheduled` (a time.perf_counter() value), the latency recorded
        runs from that scheduled send time, so that the wait of a CALL held
        back by a slow answer to the previous one is counted too. `label`
        records it under another name than the action (e.g. "TransactionEvent
        Started", so that the three kinds of events are told apart).
        """
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
        answered = time.perf_counter()
        code = message[2] if message[0] == 4 else None
        name = label or action
        if scheduled is None:
            self.rec.record(name, answered - started, code, in_window=in_window)
        else:
            self.rec.record(
                name, answered - scheduled, code, service=answered - started, in_window=in_window
            )
        return message

    async def _answer(self, message: list) -> None:
        action = message[2]
        self.rec.server_calls[action] += 1
        answer = ANSWERS_BY_VERSION[self.opts.ocpp_version].get(action, DEFAULT_ANSWER)
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
        message = await self.call("BootNotification", BOOT_PAYLOADS[self.opts.ocpp_version])
        if message[0] == 3 and isinstance(message[2], dict):
            return message[2].get("status") == "Accepted"
        return message[0] == 2  # the echo server

    def is_open(self) -> bool:
        return self.ws is not None and self.ws.is_open

    def close_code(self) -> int | None:
        return getattr(self.ws, "close_code", None)

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


def raise_nofile(wanted: int = NOFILE_WANTED) -> int:
    """Raise this process's open-file limit to `wanted` (root may raise the hard limit
    too), else as far as the hard limit allows; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    infinite = hard == resource.RLIM_INFINITY
    if infinite or hard >= wanted:
        target = (max(soft, wanted), hard)
    else:
        target = (wanted, wanted)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, target)
    except (ValueError, OSError):
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def progress(
    rec: Recorder, cps: list[ChargePoint], label: str, quiet: bool, seen: dict | None = None
) -> None:
    """Print a line a second; keep the largest number of open sockets in `seen`."""
    last, last_t = rec.done, time.perf_counter()
    while True:
        await asyncio.sleep(1.0)
        now = time.perf_counter()
        rate = (rec.done - last) / (now - last_t)
        last, last_t = rec.done, now
        if quiet and seen is None:
            continue
        open_count = sum(1 for cp in cps if cp.is_open())
        if seen is not None:
            seen["peak_open"] = max(seen.get("peak_open", 0), open_count)
        if not quiet:
            errors = sum(rec.errors.values()) + sum(rec.call_errors.values())
            window = "measuring" if rec.measuring else (seen or {}).get("phase", "warm-up")
            print(
                f"[{label}] {open_count} open, {rate:,.0f} msgs/s, {errors} errors ({window})",
                file=sys.stderr,
                flush=True,
            )


async def connect_one(cp: ChargePoint, opts: Options, rejected: Counter) -> bool:
    """Open and (unless opts.boot is off) boot one charge point."""
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


async def connect_all(cps: list[ChargePoint], opts: Options, rec: Recorder) -> dict:
    """Open and boot every charge point, at most connect_concurrency at a time."""
    gate = asyncio.Semaphore(opts.connect_concurrency)
    rejected = Counter()

    async def one(cp: ChargePoint) -> bool:
        async with gate:
            return await connect_one(cp, opts, rejected)

    started = time.perf_counter()
    results = await asyncio.gather(*(one(cp) for cp in cps))
    return {
        "connected": sum(results),
        "failed": len(results) - sum(results),
        "seconds": round(time.perf_counter() - started, 2),
        "boot_problems": dict(rejected),
    }


Hook = Callable[[str, dict], Awaitable[None]]


async def noop_hook(event: str, info: dict) -> None:
    return None


def make_cps(opts: Options, rec: Recorder) -> list[ChargePoint]:
    return [ChargePoint(f"{opts.id_prefix}{i:05d}", opts, rec) for i in range(opts.connections)]


async def close_all(cps: list[ChargePoint]) -> None:
    for start in range(0, len(cps), 500):
        await asyncio.gather(*(cp.close() for cp in cps[start : start + 500]))

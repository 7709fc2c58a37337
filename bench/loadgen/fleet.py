"""One load-generator process of the fleet scenario: a slice of the charge points.

    python -m bench.loadgen.fleet --url ws://127.0.0.1:PORT/ocpp/ --first 0 --count 12500 \
        --bind 127.0.0.2 --horizon 1800 --json /tmp/part0.json

It connects and boots its charge points (each then reports its connector
Available), prints `CONNECTED <n>` on stdout and waits for a line `GO <epoch>`
on stdin (the bench starts every process's traffic at the same wall-clock
time, after reading the server's idle memory). Then each charge point plays
its schedule (fleet_plan.py) with latency measured from the scheduled send
time; a charge point whose socket closes counts the loss and reconnects with
back-off. Every 5 s a line `P {json}` (open sockets, answered CALLs per
action) goes to stdout; at the end the report goes to --json: counts,
latencies per action (raw, so that the bench merges the processes'
percentiles exactly), errors, and what the database must hold per OCPP
version (the transactionIds answered, the MeterValues and StopTransactions
answered; for 2.0.1 the transactionIds of the TransactionEvents Started
answered, the Updated and Ended answered).

With --ocpp201-share, that share of the charge points connect with the
ocpp2.0.1 subprotocol and play the same schedule in 2.0.1: StatusNotification
Occupied for Preparing, Charging and Finishing (a 2.0.1 connector is only
Available or Occupied), TransactionEvent Started / Updated (every meter
interval) / Ended for the start, the MeterValues and the stop, with a
transactionId of the station's own. Their rows in the report say "(2.0.1)"
or "TransactionEvent ...".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections import Counter

from ..wsclient import Closed
from .chargepoint import ChargePoint, Options, connect_one, now_iso, raise_nofile
from .fleet_plan import (
    AVAILABLE,
    CHARGING,
    FINISHING,
    HEARTBEAT,
    METER,
    PREPARING,
    START,
    STOP,
    FleetParams,
    ocpp_version,
    schedule,
)
from .stats import Recorder

CALL_TIMEOUT = 60.0
GRACE = 15.0  # after the horizon: how long CALLs already sent may take
PROGRESS_EVERY = 5.0
CHARGING_POWER_W = 11_000
_SAMPLES = (
    ',{"value":"11000","measurand":"Power.Active.Import","unit":"W","context":"Sample.Periodic"}',
    ',{"value":"16.0","measurand":"Current.Import","unit":"A","phase":"L1",'
    '"context":"Sample.Periodic"}',
)
_STATUS = {
    PREPARING: "Preparing",
    CHARGING: "Charging",
    FINISHING: "Finishing",
    AVAILABLE: "Available",
}
_SAMPLES_201 = (
    ',{"value":11000,"measurand":"Power.Active.Import","unitOfMeasure":{"unit":"W"},'
    '"context":"Sample.Periodic"}',
    ',{"value":16.0,"measurand":"Current.Import","unitOfMeasure":{"unit":"A"},"phase":"L1",'
    '"context":"Sample.Periodic"}',
)
_STATUS_201 = {
    PREPARING: "Occupied",
    CHARGING: "Occupied",
    FINISHING: "Occupied",
    AVAILABLE: "Available",
}
_EVENT_201 = {START: "Started", METER: "Updated", STOP: "Ended"}


def status_payload(status: str) -> str:
    return (
        f'{{"connectorId":1,"errorCode":"NoError","status":"{status}","timestamp":"{now_iso()}"}}'
    )


def status_payload_201(status: str) -> str:
    return f'{{"timestamp":"{now_iso()}","connectorStatus":"{status}","evseId":1,"connectorId":1}}'


def label_201(name: str) -> str:
    return f"{name} (2.0.1)"


class Accounting:
    """What this process had answered, for the nothing-lost check."""

    def __init__(self) -> None:
        self.transaction_ids: list[int | str] = []
        self.counts: Counter = Counter()

    def report(self) -> dict:
        return {
            "transaction_ids": self.transaction_ids,
            "meter_values_answered": self.counts["meter_values_answered"],
            "stops_answered": self.counts["stops_answered"],
            "starts_without_transaction": self.counts["starts_without_transaction"],
            "steps_skipped_no_transaction": self.counts["steps_skipped_no_transaction"],
        }


class FleetCP:
    """A charge point's life: its schedule, its session state, its reconnects."""

    def __init__(self, cp: ChargePoint, index: int, args, acc: Accounting, lost: Counter):
        self.cp, self.index, self.args, self.acc, self.lost = cp, index, args, acc, lost
        self.id_tag = args.id_tag_format.format(index)
        self.meter_wh = 0
        self.read_at = 0.0  # when the register was last advanced (perf_counter)
        self.tx: int | None = None
        self.samples = "".join(_SAMPLES[: max(0, args.samples - 1)])

    def call_name(self, kind: str) -> tuple[str, str]:
        """The CALL's action and the label its latencies are reported under."""
        return kind.split(" ", 1)[0], kind

    def payload(self, kind: str) -> str | None:
        """The CALL's payload; None: skipped (a session step without its transaction)."""
        if kind == HEARTBEAT:
            return "{}"
        if kind in _STATUS:
            return status_payload(_STATUS[kind])
        if kind == START:
            self.read_at = time.perf_counter()
            return (
                f'{{"connectorId":1,"idTag":"{self.id_tag}","meterStart":{self.meter_wh},'
                f'"timestamp":"{now_iso()}"}}'
            )
        if self.tx is None:
            self.acc.counts["steps_skipped_no_transaction"] += 1
            return None
        self.advance_register()
        if kind == METER:
            return (
                f'{{"connectorId":1,"transactionId":{self.tx},"meterValue":[{{"timestamp":'
                f'"{now_iso()}","sampledValue":[{{"value":"{self.meter_wh}","measurand":'
                f'"Energy.Active.Import.Register","unit":"Wh","context":"Sample.Periodic"}}'
                f"{self.samples}]}}]}}"
            )
        return (
            f'{{"transactionId":{self.tx},"idTag":"{self.id_tag}","meterStop":{self.meter_wh},'
            f'"timestamp":"{now_iso()}","reason":"Local"}}'
        )

    def advance_register(self) -> None:
        """The energy a CHARGING_POWER_W charger delivered since the last reading (at
        least 1 Wh), so that the plausibility rules bill the session, not dispute it."""
        now = time.perf_counter()
        self.meter_wh += max(1, round(CHARGING_POWER_W * (now - self.read_at) / 3600))
        self.read_at = now

    def started_transaction(self, result: dict) -> int | str | None:
        """The id of the transaction an answered start opened (1.6: the CSMS's)."""
        return result.get("transactionId")

    def account(self, kind: str, answer: list) -> None:
        ok = answer[0] == 3 and isinstance(answer[2], dict)
        if kind == START:
            self.tx = self.started_transaction(answer[2]) if ok else None
            if self.tx is not None:
                self.acc.transaction_ids.append(self.tx)
            else:
                self.acc.counts["starts_without_transaction"] += 1
        elif kind == METER and ok:
            self.acc.counts["meter_values_answered"] += 1
        elif kind == STOP:
            if ok:
                self.acc.counts["stops_answered"] += 1
            self.tx = None

    async def run(self, base: float, horizon: float, opts: Options) -> None:
        for offset, kind in schedule(self.index, self.args.params, horizon):
            due = base + offset
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            payload = self.payload(kind)
            if payload is None:
                continue
            action, label = self.call_name(kind)
            try:
                answer = await asyncio.wait_for(
                    self.cp.call(action, payload, scheduled=due, in_window=True, label=label),
                    CALL_TIMEOUT,
                )
            except TimeoutError:
                self.cp.rec.errors[f"{label} unanswered after {CALL_TIMEOUT:g} s"] += 1
                continue
            except (Closed, OSError):
                self.lost[_reason(self.cp)] += 1
                if kind in (START, STOP):  # a start unanswered: its steps are skipped
                    self.tx = None
                if not await self.reconnect(base + horizon, opts):
                    return
                continue
            self.account(kind, answer)

    async def reconnect(self, end: float, opts: Options) -> bool:
        self.cp.abort()
        rejected: Counter = Counter()
        while time.perf_counter() < end:
            if await connect_one(self.cp, opts, rejected):
                self.lost["reconnected"] += 1
                return True
        return False


class FleetCP201(FleetCP):
    """The same life in OCPP 2.0.1: the station names its transactions (a uuid4) and
    numbers each one's TransactionEvents from seqNo 0."""

    def __init__(self, cp: ChargePoint, index: int, args, acc: Accounting, lost: Counter):
        super().__init__(cp, index, args, acc, lost)
        self.tx: str | None = None
        self.seq_no = 0
        self.token = f'"idToken":{{"idToken":"{self.id_tag}","type":"ISO14443"}}'
        self.samples = "".join(_SAMPLES_201[: max(0, args.samples - 1)])

    def call_name(self, kind: str) -> tuple[str, str]:
        if kind in _EVENT_201:
            return "TransactionEvent", f"TransactionEvent {_EVENT_201[kind]}"
        if kind in _STATUS_201:
            return "StatusNotification", label_201(f"StatusNotification {_STATUS_201[kind]}")
        return kind, label_201(kind)

    def payload(self, kind: str) -> str | None:
        if kind == HEARTBEAT:
            return "{}"
        if kind in _STATUS_201:
            return status_payload_201(_STATUS_201[kind])
        if kind == START:
            self.read_at = time.perf_counter()
            self.tx, self.seq_no = str(uuid.uuid4()), 0
            return self.event(
                "Started",
                "Authorized",
                '"chargingState":"Charging"',
                f',{self.token},"evse":{{"id":1,"connectorId":1}},'
                + self.register("Transaction.Begin"),
            )
        if self.tx is None:
            self.acc.counts["steps_skipped_no_transaction"] += 1
            return None
        self.advance_register()
        self.seq_no += 1
        if kind == METER:
            return self.event(
                "Updated",
                "MeterValuePeriodic",
                '"chargingState":"Charging"',
                "," + self.register("Sample.Periodic", self.samples),
            )
        return self.event(
            "Ended",
            "StopAuthorized",
            '"chargingState":"EVConnected","stoppedReason":"Local"',
            f",{self.token}," + self.register("Transaction.End"),
        )

    def event(self, event_type: str, trigger: str, state: str, rest: str) -> str:
        return (
            f'{{"eventType":"{event_type}","timestamp":"{now_iso()}","triggerReason":"{trigger}",'
            f'"seqNo":{self.seq_no},"transactionInfo":{{"transactionId":"{self.tx}",{state}}}'
            f"{rest}}}"
        )

    def register(self, context: str, more: str = "") -> str:
        return (
            f'"meterValue":[{{"timestamp":"{now_iso()}","sampledValue":[{{"value":'
            f'{self.meter_wh},"context":"{context}","measurand":"Energy.Active.Import.Register",'
            f'"unitOfMeasure":{{"unit":"Wh"}}}}{more}]}}]'
        )

    def started_transaction(self, result: dict) -> str | None:
        return self.tx  # the station named it when it sent the start


LIVES = {"1.6": FleetCP, "2.0.1": FleetCP201}
FIRST_STATUS = {
    "1.6": (status_payload, AVAILABLE),
    "2.0.1": (status_payload_201, label_201("StatusNotification Available")),
}


def _reason(cp: ChargePoint) -> str:
    code = cp.close_code()
    return "dropped (no close frame)" if code in (None, 1006) else f"closed ({code})"


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def progress(cps: list[ChargePoint], rec: Recorder) -> None:
    while True:
        await asyncio.sleep(PROGRESS_EVERY)
        sample = {
            "t": round(time.time(), 2),
            "open": sum(1 for cp in cps if cp.is_open()),
            "answered": dict(rec.total_count),
            "errors": sum(rec.errors.values()) + sum(rec.call_errors.values()),
        }
        emit("P " + json.dumps(sample, separators=(",", ":")))


async def run(args) -> dict:
    rec = Recorder()
    options = {
        version: Options(
            url=args.url,
            connections=args.count,
            id_prefix=args.prefix,
            connect_concurrency=args.connect_concurrency,
            ocpp_version=version,
            extra={},
        )
        for version in LIVES
    }
    cps = []
    for i in range(args.first, args.first + args.count):
        cp = ChargePoint(f"{args.prefix}{i:05d}", options[ocpp_version(i, args.params)], rec)
        cp.local_host = args.bind[i % len(args.bind)]
        cps.append(cp)
    gate = asyncio.Semaphore(args.connect_concurrency)
    rejected: Counter = Counter()

    async def connect(cp: ChargePoint) -> bool:
        async with gate:
            if not await connect_one(cp, cp.opts, rejected):
                return False
            payload, label = FIRST_STATUS[cp.opts.ocpp_version]
            try:
                await cp.call("StatusNotification", payload("Available"), label=label)
            except Closed:
                return False
            return True

    ticker = asyncio.create_task(progress(cps, rec))
    started = time.perf_counter()
    connected = sum(await asyncio.gather(*(connect(cp) for cp in cps)))
    ramp_s = round(time.perf_counter() - started, 2)
    emit(f"CONNECTED {connected}")
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    go_epoch = float(line.split()[1])
    # The common wall-clock start, on this process's monotonic clock.
    base = time.perf_counter() + (go_epoch - time.time())
    rec.window_start = base
    versions = sorted({cp.opts.ocpp_version for cp in cps})
    accounts, lost = {version: Accounting() for version in versions}, Counter()
    lives = [
        LIVES[cp.opts.ocpp_version](cp, args.first + n, args, accounts[cp.opts.ocpp_version], lost)
        for n, cp in enumerate(cps)
        if cp.is_open()
    ]
    tasks = [asyncio.create_task(life.run(base, args.horizon, life.cp.opts)) for life in lives]
    done, pending = await asyncio.wait(
        tasks, timeout=args.horizon + GRACE + max(0, base - time.perf_counter())
    )
    rec.window_end = base + args.horizon
    for task in pending:
        task.cancel()
    for task in done:
        if task.exception() is not None:
            rec.errors[f"charge point task: {type(task.exception()).__name__}"] += 1
    open_at_end = sum(1 for cp in cps if cp.is_open())
    ticker.cancel()
    for start in range(0, len(cps), 500):
        await asyncio.gather(*(cp.close() for cp in cps[start : start + 500]))
    report = rec.report()
    report["latencies_ms"] = {
        action: [round(v, 3) for v in values] for action, values in rec.latencies.items()
    }
    report.update(
        first=args.first,
        count=args.count,
        bind=args.bind,
        connected=connected,
        ramp_s=ramp_s,
        boot_problems=dict(rejected),
        open_at_end=open_at_end,
        unfinished=len(pending),
        lost=dict(lost),
        sent={version: acc.report() for version, acc in accounts.items()},
        answered=dict(rec.total_count),
    )
    return report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen.fleet", description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--bind", default="127.0.0.1", help="source addresses, comma-separated")
    parser.add_argument("--prefix", default="FLEET-")
    parser.add_argument("--horizon", type=float, required=True, help="seconds of traffic")
    parser.add_argument("--heartbeat", type=float, default=300.0)
    parser.add_argument("--meter-interval", type=float, default=60.0)
    parser.add_argument("--charging-share", type=float, default=1 / 3)
    parser.add_argument("--session", type=float, default=1800.0, help="mean session seconds")
    parser.add_argument("--status-gap", type=float, default=1.0)
    parser.add_argument("--start-spread", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ocpp201-share", type=float, default=0.0)
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--id-tag-format", default="BENCHTAG{:05d}")
    parser.add_argument("--connect-concurrency", type=int, default=100)
    parser.add_argument("--json", required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.bind = args.bind.split(",")
    args.params = FleetParams(
        heartbeat_s=args.heartbeat,
        meter_s=args.meter_interval,
        charging_share=args.charging_share,
        session_s=args.session,
        status_gap_s=args.status_gap,
        start_spread_s=args.start_spread,
        seed=args.seed,
        ocpp201_share=args.ocpp201_share,
    )
    nofile = raise_nofile()
    if nofile < args.count + 100:
        print(f"open-file limit {nofile} < {args.count} connections", file=sys.stderr)
        return 2
    cpu = time.process_time()
    report = asyncio.run(run(args))
    report["cpu_s"] = round(time.process_time() - cpu, 2)
    report["nofile"] = nofile
    with open(args.json, "w") as out:
        json.dump(report, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

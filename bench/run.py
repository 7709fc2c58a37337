"""One-command benchmarks (issue 9): start the servers, run the load, write the results.

    .venv/bin/python -m bench.run heartbeat --connections 100,1000 --duration 15
    .venv/bin/python -m bench.run heartbeat --servers pg --processes 1,2
    .venv/bin/python -m bench.run heartbeat --rate 1500      # fixed rate, not back to back
    .venv/bin/python -m bench.run durable
    .venv/bin/python -m bench.run heartbeat --ocpp-version 2.0.1
    .venv/bin/python -m bench.run durable --ocpp-version 1.6,2.0.1   # both, side by side
    .venv/bin/python -m bench.run halfpeak                 # p99 at half the peak rate
    .venv/bin/python -m bench.run idle --connections 1000,5000,10000
    .venv/bin/python -m bench.run storm --connections 5000
    .venv/bin/python -m bench.run soak                     # 10,000 for 10 min, Heartbeat every 30 s
    .venv/bin/python -m bench.run command --nodes 1,2      # one node, and across two
    .venv/bin/python -m bench.run fleet --connections 2000 --duration 120 \
        --heartbeat-interval 30 --meter-interval 10 --session-length 60   # a small, fast fleet
    .venv/bin/python -m bench.run all            # heartbeat durable halfpeak idle storm command
    .venv/bin/python -m bench.run variants       # what each candidate change gains
    .venv/bin/python -m bench.run profile        # py-spy of the server at 100 connections

Every run writes bench/results/<date>-<scenario>[-<label>].md and .json with
the machine, the versions, the database, the exact command and the figures
(and a .png when it measured several connection counts); `all` also writes
<date>-all.md and latest.md, latest.json, latest.png. Nothing passes or fails
on time: these are measurements. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import time

from . import loadgen
from .report import WHAT, write_results, write_suite
from .scenarios import SCENARIOS
from .scenarios.common import log
from .sched import apply_to_self
from .servers import LOADGEN_CORE, PROJECT
from .sysinfo import machine_info

DEFAULTS = {
    # scenario: (servers, connections, duration)
    "heartbeat": ("echo,sqlite,pg", "100,1000", 15.0),
    "durable": ("echo,pg", "100", 20.0),
    "halfpeak": ("echo,pg", "1000", 15.0),
    "idle": ("echo,pg", "1000,5000", 10.0),
    "storm": ("echo,pg", "1000", 90.0),
    "soak": ("pg", "10000", 600.0),
    "fleet": ("pg", "10000", 300.0),
    "command": ("pg", "10", 0.0),
    "profile": ("pg", "100", 20.0),
    "variants": ("pg", "100", 12.0),
}
SUITE = ("heartbeat", "durable", "halfpeak", "idle", "storm", "command")
NODES_DEFAULT = {"command": "1,2"}
OCPP_VERSIONS = ("1.6", "2.0.1")
# Scenarios that measure several OCPP versions in one run (rows per version).
MULTI_VERSION = ("heartbeat", "durable", "halfpeak")


def _ints(text: str, option: str) -> list[int]:
    try:
        values = [int(x) for x in str(text).split(",") if x]
    except ValueError:
        raise SystemExit(f"{option} wants comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise SystemExit(f"{option} wants positive integers, got {text!r}")
    return values


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"wants a number from 0 to 1, got {text!r}")
    return value


def _versions(text: str, scenario: str, suite: bool) -> list[str]:
    """--ocpp-version for one scenario: each version once, in the order given."""
    versions = list(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
    unknown = [v for v in versions if v not in OCPP_VERSIONS]
    if not versions or unknown:
        raise SystemExit(f"--ocpp-version wants 1.6 and/or 2.0.1, got {text!r}")
    if scenario == "command" and versions != ["1.6"]:
        if suite:  # `all --ocpp-version 2.0.1`: the other scenarios use it
            log("command: OCPP 1.6 (it measures the 1.6 Reset through the command path)")
            return ["1.6"]
        raise SystemExit("--ocpp-version: the command scenario sends 1.6 commands only")
    if len(versions) > 1 and scenario not in MULTI_VERSION:
        if suite:
            log(f"{scenario}: OCPP {versions[0]} only (one version per run)")
            return versions[:1]
        raise SystemExit(
            f"--ocpp-version: {scenario} takes one version (several: {', '.join(MULTI_VERSION)})"
        )
    return versions


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "scenario",
        choices=[*DEFAULTS, "all"],
    )
    parser.add_argument("--servers", help="comma-separated: echo, sqlite, pg")
    parser.add_argument(
        "--processes",
        default="1",
        help="server processes, comma-separated: each value one configuration (pg only "
        "above 1: csms_project.launcher, N Daphne processes on one SO_REUSEPORT port)",
    )
    parser.add_argument("--connections", help="comma-separated counts")
    parser.add_argument(
        "--duration",
        type=float,
        help="measured seconds (idle, soak: hold; storm: deadline)",
    )
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=1, help="runs per point; the median is kept")
    parser.add_argument("--asgi", choices=["daphne", "uvicorn"], default="daphne")
    parser.add_argument(
        "--env", action="append", help="KEY=VALUE for the project server (repeatable)"
    )
    parser.add_argument("--patch", help="bench/serve.py patches, comma-separated")
    parser.add_argument("--backlog", type=int, help="listen backlog (Daphne default: Twisted's 50)")
    parser.add_argument("--client", choices=["lean", "websockets"], default="lean")
    parser.add_argument(
        "--ocpp-version",
        default="1.6",
        help="what the charge points speak: 1.6 (default), 2.0.1, or 1.6,2.0.1 (heartbeat, "
        "durable, halfpeak: both, rows per version, each against the echo server in that "
        "version); durable in 2.0.1 is TransactionEvent Started, K x Updated, Ended",
    )
    parser.add_argument(
        "--connect-concurrency",
        type=int,
        default=100,
        help="handshakes in progress at most (the ramp-up of idle, storm, soak)",
    )
    parser.add_argument(
        "--meter-values", type=int, default=5, help="durable: MeterValues per session"
    )
    parser.add_argument(
        "--settle", type=float, default=3.0, help="idle, soak: seconds before reading RSS"
    )
    parser.add_argument("--count", type=int, default=300, help="command: commands per concurrency")
    parser.add_argument("--concurrency", default="1,10", help="command: commands in flight")
    parser.add_argument("--via", choices=["auto", "shell", "api"], default="auto")
    parser.add_argument(
        "--nodes",
        help="command: 1 (charge points and commands on one server) and/or 2 (charge points "
        "on node A, API of node B), comma-separated (default 1,2)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=30.0,
        help="soak: seconds between two Heartbeats of a charge point",
    )
    parser.add_argument("--mode", choices=["heartbeat", "durable"], default="heartbeat")
    parser.add_argument("--only", help="variants: comma-separated names (default: all)")
    parser.add_argument(
        "--rate",
        type=float,
        help="heartbeat: fixed total Heartbeats/s over all connections instead of back to "
        "back (latency from the scheduled send time); profile: py-spy samples/s (100)",
    )
    parser.add_argument("--top", type=int, default=25, help="profile: functions listed")
    parser.add_argument(
        "--with-soak",
        action="store_true",
        help="all: end with the soak (10,000 connections, 10 minutes) on the largest --processes",
    )
    parser.add_argument(
        "--no-worker",
        action="store_true",
        help="durable, soak, fleet: no Celery worker (invoices are not issued during the run; "
        "the relay's queue is emptied afterwards), for comparison with the deployed setup",
    )
    fleet = parser.add_argument_group("fleet (intervals in seconds; shorten them to develop)")
    fleet.add_argument("--heartbeat-interval", type=float, default=300.0)
    fleet.add_argument("--meter-interval", type=float, default=60.0, help="while charging")
    fleet.add_argument("--session-length", type=float, default=1800.0, help="mean session")
    fleet.add_argument(
        "--charging-share", type=float, default=1 / 3, help="share of connectors charging"
    )
    fleet.add_argument("--status-gap", type=float, default=1.0, help="between session steps")
    fleet.add_argument(
        "--start-spread",
        type=float,
        default=600.0,
        help="the charging share's first sessions start within this many seconds",
    )
    fleet.add_argument(
        "--ocpp201-share",
        type=_share,
        default=0.0,
        help="share of the charge points speaking OCPP 2.0.1 (the others 1.6), 0 to 1",
    )
    fleet.add_argument(
        "--loadgen-processes",
        type=int,
        help="load-generator processes (default: one per 12,500 charge points)",
    )
    parser.add_argument("--label", help="suffix of the results file name")
    parser.add_argument("-q", "--quiet", action="store_true", help="no per-second progress")
    return parser


def run_one(scenario: str, args, machine: dict, command: str) -> tuple[dict, object]:
    servers, connections, duration = DEFAULTS[scenario]
    args = argparse.Namespace(**vars(args))
    args.servers_explicit = args.servers is not None
    args.servers = (args.servers or servers).split(",")
    args.connections = _ints(args.connections or connections, "--connections")
    args.processes = _ints(args.processes, "--processes")
    args.nodes = _ints(args.nodes or NODES_DEFAULT.get(scenario, "1"), "--nodes")
    args.duration = args.duration if args.duration is not None else duration
    args.concurrency = _ints(args.concurrency, "--concurrency")
    args.ocpp_versions = _versions(args.ocpp_version, scenario, suite=args.scenario == "all")
    started = time.perf_counter()
    result = SCENARIOS[scenario](args)
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    path = write_results(scenario, args, result, machine, command)
    log(f"{scenario} done in {result['elapsed_s']} s: {_shown_path(path)}")
    return result, path


def _shown_path(path) -> str:
    try:
        return str(path.relative_to(PROJECT))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.rate is not None and args.scenario not in ("heartbeat", "profile", "all"):
        raise SystemExit("--rate: heartbeat (fixed msgs/s) or profile (py-spy samples/s)")
    # SIGTERM unwinds like Ctrl-C, so that the servers started here are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        os.sched_setaffinity(0, {LOADGEN_CORE})
    except OSError:
        log("could not pin the load generator")
    machine_scheduling = apply_to_self()
    loadgen.raise_nofile()
    command = ".venv/bin/python -m bench.run " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    machine = machine_info()
    machine["scheduling"] = machine_scheduling
    if args.scenario != "all":
        run_one(args.scenario, args, machine, command)
        return 0
    started = time.perf_counter()
    parts = []
    for scenario in SUITE:
        result, path = run_one(scenario, args, machine, command)
        parts.append((scenario, result, path))
    if args.with_soak:
        soak_args = argparse.Namespace(**vars(args))
        soak_args.processes = str(max(_ints(args.processes, "--processes")))
        soak_args.connections = soak_args.duration = None  # the soak's own defaults
        result, path = run_one("soak", soak_args, machine, command)
        parts.append(("soak", result, path))
    out = write_suite(parts, args, machine, command, time.perf_counter() - started)
    log(f"suite done: {_shown_path(out)} (and latest.md, latest.json, latest.png)")
    return 0


assert set(SCENARIOS) == set(DEFAULTS) and set(SUITE) <= set(WHAT)


if __name__ == "__main__":
    sys.exit(main())

"""`python -m bench.loadgen MODE ...`: the load generator as a plain tool (see __init__)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from ..wsclient import OPENERS
from . import __doc__ as DOC
from .chargepoint import Options, raise_nofile
from .closed import run_idle, run_storm, run_traffic
from .paced import run_paced, run_soak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.loadgen",
        description=DOC,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("mode", choices=["heartbeat", "durable", "idle", "storm", "soak"])
    parser.add_argument("--url", default="ws://127.0.0.1:8000/ocpp/", help="id is appended")
    parser.add_argument("-c", "--connections", type=int, default=100)
    parser.add_argument("-d", "--duration", type=float, default=20.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument(
        "--rate", type=float, help="heartbeat: fixed total msgs/s (default: back to back)"
    )
    parser.add_argument(
        "--interval", type=float, default=30.0, help="soak: Heartbeat interval per charge point"
    )
    parser.add_argument("--hold", type=float, default=10.0, help="idle: seconds to stay connected")
    parser.add_argument("--deadline", type=float, default=60.0, help="storm: give up after")
    parser.add_argument("--id-prefix", default="BENCH-")
    parser.add_argument("--connect-concurrency", type=int, default=100)
    parser.add_argument("--meter-values", type=int, default=5, help="durable: per session")
    parser.add_argument("--samples", type=int, default=3, help="durable: sampled values (1-3)")
    parser.add_argument("--id-tag-format", default="BENCHTAG{:05d}", help="durable: per index")
    parser.add_argument("--client", choices=sorted(OPENERS), default="lean")
    parser.add_argument(
        "--ocpp-version",
        choices=["1.6", "2.0.1"],
        default="1.6",
        help="subprotocol and messages (durable in 2.0.1: TransactionEvent Started/Updated/Ended)",
    )
    parser.add_argument("--json", help="write the report here instead of stdout")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.rate is not None and args.mode != "heartbeat":
        parser.error("--rate applies to the heartbeat mode")

    raise_nofile()
    opts = Options(
        url=args.url,
        connections=args.connections,
        id_prefix=args.id_prefix,
        connect_concurrency=args.connect_concurrency,
        client=args.client,
        ocpp_version=args.ocpp_version,
        extra={
            "meter_values": args.meter_values,
            "samples": args.samples,
            "id_tag_format": args.id_tag_format,
        },
    )
    if args.mode == "heartbeat" and args.rate:
        coro = run_paced(opts, args.rate, args.duration, args.warmup, quiet=args.quiet)
    elif args.mode in ("heartbeat", "durable"):
        coro = run_traffic(args.mode, opts, args.duration, args.warmup, quiet=args.quiet)
    elif args.mode == "idle":
        coro = run_idle(opts, args.hold, quiet=args.quiet)
    elif args.mode == "soak":
        coro = run_soak(opts, args.duration, args.interval, quiet=args.quiet)
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

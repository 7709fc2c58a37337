"""What the scenarios share: the server configurations of a run, and one measured load."""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time

from .. import loadgen
from ..servers import LOADGEN_CORE, PROJECT, VENV_BIN, Server, ServerSpec
from ..sysinfo import CpuMeter


def log(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def parse_env(pairs: list[str]) -> dict:
    env = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--env wants KEY=VALUE, got {pair!r}")
        env[key] = value
    return env


def spec_for(config: str, args, **overrides) -> ServerSpec:
    fields = dict(
        config=config,
        asgi=args.asgi,
        env=parse_env(args.env) if config != "echo" else {},
        patches=[p for p in (args.patch or "").split(",") if p] if config != "echo" else [],
        backlog=args.backlog,
    )
    fields.update(overrides)
    return ServerSpec(**fields)


def server_specs(args: argparse.Namespace, configs: list[str] | None = None) -> list[ServerSpec]:
    """Every server configuration of the run: each of --servers at each of --processes.

    The echo server is the one-process reference. SQLite runs in one process
    only: asked for by name with --processes N > 1 it is refused, taken from
    a scenario's defaults it is left out at N > 1.
    """
    specs = []
    for config in configs or args.servers:
        for processes in [1] if config == "echo" else args.processes:
            if processes > 1 and config != "pg":
                if getattr(args, "servers_explicit", True):
                    raise SystemExit(
                        f"--processes {processes}: {config} runs in one process only "
                        "(several need PostgreSQL and the Redis channel layer: --servers pg)"
                    )
                log(f"{config} x{processes} left out: {config} runs in one process only")
                continue
            try:
                specs.append(spec_for(config, args, processes=processes))
            except ValueError as exc:
                raise SystemExit(f"{config} x{processes}: {exc}") from exc
    return specs


def traffic_options(server: Server, n: int, prefix: str, args, **extra) -> loadgen.Options:
    return loadgen.Options(
        url=server.url,
        connections=n,
        id_prefix=prefix,
        client=args.client,
        connect_concurrency=args.connect_concurrency,
        extra={"meter_values": args.meter_values, "samples": 3, **extra},
    )


def measure_traffic(
    server: Server, mode: str, n: int, prefix: str, args, rate: float | None = None
) -> dict:
    """One closed-loop run, or with `rate` one fixed-rate Heartbeat run, with the CPU."""
    meter = CpuMeter(server.pids)

    async def hook(event: str, info: dict) -> None:
        if event == "window_start":
            meter.start()
        elif event == "window_end":
            meter.stop()

    opts = traffic_options(server, n, prefix, args)
    if rate:
        run = loadgen.run_paced(opts, rate, args.duration, args.warmup, hook, quiet=args.quiet)
    else:
        run = loadgen.run_traffic(mode, opts, args.duration, args.warmup, hook, quiet=args.quiet)
    report = asyncio.run(run)
    report["cpu"] = meter.result
    msgs = report["msgs"] or 1
    report["server_us_per_msg"] = round(meter.result["server_cpu_s"] * 1e6 / msgs, 1)
    return report


def median_report(reports: list[dict]) -> dict:
    if len(reports) == 1:
        return reports[0]
    ordered = sorted(reports, key=lambda r: r["msgs_per_s"] or 0)
    chosen = dict(ordered[len(ordered) // 2])
    chosen["repeats_msgs_per_s"] = [r["msgs_per_s"] for r in reports]
    return chosen


def warm_up(server: Server, args) -> None:
    """A few connections and CALLs (on every process), so that lazy imports and DB
    connections exist."""
    opts = loadgen.Options(
        url=server.url,
        connections=10 * server.spec.processes,
        id_prefix="WARM-",
        client=args.client,
    )
    asyncio.run(loadgen.run_traffic("heartbeat", opts, 2.0, 0.5, quiet=True))


def traffic_row(spec: ServerSpec, server: Server | None, n: int, report: dict) -> dict:
    cpu = report.get("cpu", {})
    latency = report["latency"]
    return {
        "server": spec.label,
        "database": spec.describe()["database"],
        "processes": spec.processes,
        "connections": n,
        "connected": report["connect"]["connected"],
        "target_rate": report.get("target_msgs_per_s"),
        "msgs_per_s": report["msgs_per_s"],
        "p50_ms": latency.get("p50_ms"),
        "p95_ms": latency.get("p95_ms"),
        "p99_ms": latency.get("p99_ms"),
        "service_p99_ms": report.get("service_latency", {}).get("p99_ms"),
        "unanswered": report.get("unanswered"),
        "server_cpu_pct": cpu.get("server_cpu_pct"),
        "server_us_per_msg": report.get("server_us_per_msg"),
        "loadgen_cpu_pct": cpu.get("loadgen_cpu_pct"),
        "db_cpu_pct": cpu.get("db_cpu_pct"),
        "other_cpu_pct": cpu.get("other_cpu_pct"),
        "cpu_pressure_pct": cpu.get("cpu_pressure_pct"),
        "errors": sum(report["errors"].values()),
        "call_errors": sum(report["call_errors"].values()),
        "connections_lost": report["connections_lost"],
        "by_action": report["by_action"],
        "repeats_msgs_per_s": report.get("repeats_msgs_per_s"),
        "report": report,
    }


def add_ratios(rows: list[dict]) -> None:
    """msgs/s as a share of the echo server's at the same count (closed loop only: at a
    fixed rate every server that keeps up answers the same msgs/s)."""
    echo = {r["connections"]: r["msgs_per_s"] for r in rows if r["server"] == "echo"}
    for row in rows:
        reference = None if row.get("target_rate") else echo.get(row["connections"])
        row["ratio_to_echo"] = (
            round(row["msgs_per_s"] / reference, 3) if reference and row["msgs_per_s"] else None
        )


def shown(cmd: list[str] | str) -> str:
    """A server command line as run from the project folder."""
    text = cmd if isinstance(cmd, str) else " ".join(cmd)
    return text.replace(f"{PROJECT}/", "")


def server_record(spec: ServerSpec, server: Server, **extra) -> dict:
    """What the results say about one server: configuration, command, log problems."""
    return {
        **spec.describe(),
        "command": shown(server.cmd),
        "log_problems": server.log_problems(),
        **extra,
    }


async def online_in_db(env: dict, prefix: str, count: int) -> dict:
    """How many charge points named prefix* the database shows online (a Django helper process)."""
    proc = await asyncio.create_subprocess_exec(
        "taskset",
        "-c",
        str(LOADGEN_CORE),
        str(VENV_BIN / "python"),
        "-m",
        "bench.django_tasks",
        "online",
        "--prefix",
        prefix,
        "--count",
        str(count),
        env=env,
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    try:
        return json.loads(out)
    except ValueError:
        return {"error": out.decode()[-500:]}

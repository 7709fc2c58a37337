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


def ocpp_versions(args) -> list[str]:
    """The OCPP versions the run's charge points speak (--ocpp-version; 1.6 by default)."""
    return getattr(args, "ocpp_versions", None) or ["1.6"]


def version_prefix(prefix: str, version: str) -> str:
    """Charge point ids per version (HB-, HB201-...): a charge point keeps one version."""
    return prefix if version == "1.6" else f"{prefix[:-1]}{version.replace('.', '')}-"


def traffic_options(
    server: Server, n: int, prefix: str, args, ocpp_version: str | None = None, **extra
) -> loadgen.Options:
    version = ocpp_version or ocpp_versions(args)[0]
    return loadgen.Options(
        url=server.url,
        connections=n,
        id_prefix=version_prefix(prefix, version),
        client=args.client,
        connect_concurrency=args.connect_concurrency,
        ocpp_version=version,
        extra={"meter_values": args.meter_values, "samples": 3, **extra},
    )


def measure_traffic(
    server: Server,
    mode: str,
    n: int,
    prefix: str,
    args,
    rate: float | None = None,
    ocpp_version: str | None = None,
    meters: tuple = (),
) -> dict:
    """One closed-loop run, or with `rate` one fixed-rate Heartbeat run, with the CPU
    (of the server; `meters`: other CpuMeters read over the same window)."""
    meter = CpuMeter(server.pids)

    async def hook(event: str, info: dict) -> None:
        if event == "window_start":
            for each in (meter, *meters):
                each.start()
        elif event == "window_end":
            for each in (meter, *meters):
                each.stop()

    opts = traffic_options(server, n, prefix, args, ocpp_version)
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
    """A few connections and CALLs (on every process, in every OCPP version of the run),
    so that lazy imports and DB connections exist."""
    for version in ocpp_versions(args):
        opts = loadgen.Options(
            url=server.url,
            connections=10 * server.spec.processes,
            id_prefix=version_prefix("WARM-", version),
            client=args.client,
            ocpp_version=version,
        )
        asyncio.run(loadgen.run_traffic("heartbeat", opts, 2.0, 0.5, quiet=True))


def traffic_row(
    spec: ServerSpec, server: Server | None, n: int, report: dict, ocpp_version: str | None = None
) -> dict:
    cpu = report.get("cpu", {})
    latency = report["latency"]
    return {
        "server": spec.label,
        "ocpp": ocpp_version,
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
    """msgs/s as a share of the echo server's at the same count and OCPP version (closed
    loop only: at a fixed rate every server that keeps up answers the same msgs/s)."""
    echo = {
        (r["connections"], r.get("ocpp")): r["msgs_per_s"] for r in rows if r["server"] == "echo"
    }
    for row in rows:
        key = (row["connections"], row.get("ocpp"))
        reference = None if row.get("target_rate") else echo.get(key)
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

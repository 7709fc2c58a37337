"""One-command benchmarks (issue 9): start the servers, run the load, write the results.

    .venv/bin/python -m bench.run heartbeat --connections 100,1000 --duration 15
    .venv/bin/python -m bench.run durable
    .venv/bin/python -m bench.run idle --connections 1000,5000,10000
    .venv/bin/python -m bench.run storm --connections 5000
    .venv/bin/python -m bench.run command
    .venv/bin/python -m bench.run all            # the five above, defaults (~12 min)
    .venv/bin/python -m bench.run variants       # what each candidate change gains
    .venv/bin/python -m bench.run profile        # py-spy of the server at 100 connections

Every run writes bench/results/<date>-<scenario>[-<label>].md and .json with
the machine, the versions, the database, the exact command and the figures.
Nothing passes or fails on time: these are measurements. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from . import loadgen
from .profile_report import markdown as profile_markdown
from .profile_report import summarise_gil as profile_summarise_gil
from .profile_report import summarise_idle as profile_summarise_idle
from .sched import NICE, SLICE_US, apply_to_self
from .servers import (
    PROJECT,
    VENV_BIN,
    WORK_DIR,
    Server,
    ServerSpec,
    prepare_database,
    redis_cleanup,
)
from .sysinfo import CpuMeter, machine_info, rss_kib

RESULTS_DIR = Path(__file__).resolve().parent / "results"
LOADGEN_CORE = int(os.environ.get("BENCH_LOADGEN_CORE", "1"))

DEFAULTS = {
    # scenario: (servers, connections, duration)
    "heartbeat": ("echo,sqlite,pg", "100,1000", 15.0),
    "durable": ("echo,pg", "100", 20.0),
    "idle": ("echo,pg", "1000,5000", 10.0),
    "storm": ("echo,pg", "1000", 90.0),
    "command": ("pg", "10", 0.0),
    "profile": ("pg", "100", 20.0),
    "variants": ("pg", "100", 12.0),
}


# --- helpers -------------------------------------------------------------------


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


def traffic_options(server: Server, n: int, prefix: str, args, **extra) -> loadgen.Options:
    return loadgen.Options(
        url=server.url,
        connections=n,
        id_prefix=prefix,
        client=args.client,
        connect_concurrency=args.connect_concurrency,
        extra={"meter_values": args.meter_values, "samples": 3, **extra},
    )


def measure_traffic(server: Server, mode: str, n: int, prefix: str, args) -> dict:
    meter = CpuMeter([server.pid])

    async def hook(event: str, info: dict) -> None:
        if event == "window_start":
            meter.start()
        elif event == "window_end":
            meter.stop()

    opts = traffic_options(server, n, prefix, args)
    report = asyncio.run(
        loadgen.run_traffic(mode, opts, args.duration, args.warmup, hook, quiet=args.quiet)
    )
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
    """A few connections and CALLs, so that lazy imports and DB connections exist."""
    opts = loadgen.Options(url=server.url, connections=10, id_prefix="WARM-", client=args.client)
    asyncio.run(loadgen.run_traffic("heartbeat", opts, 2.0, 0.5, quiet=True))


def traffic_row(spec: ServerSpec, server: Server, n: int, report: dict) -> dict:
    cpu = report.get("cpu", {})
    latency = report["latency"]
    return {
        "server": spec.label,
        "database": spec.describe()["database"],
        "connections": n,
        "connected": report["connect"]["connected"],
        "msgs_per_s": report["msgs_per_s"],
        "p50_ms": latency.get("p50_ms"),
        "p95_ms": latency.get("p95_ms"),
        "p99_ms": latency.get("p99_ms"),
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
    echo = {r["connections"]: r["msgs_per_s"] for r in rows if r["server"] == "echo"}
    for row in rows:
        reference = echo.get(row["connections"])
        row["ratio_to_echo"] = (
            round(row["msgs_per_s"] / reference, 3) if reference and row["msgs_per_s"] else None
        )


# --- scenarios -----------------------------------------------------------------


def scenario_traffic(args, mode: str) -> dict:
    """heartbeat / durable: one CALL in flight per connection, back to back."""
    rows, servers = [], []
    prefix = "HB-" if mode == "heartbeat" else "TX-"
    for config in args.servers:
        spec = spec_for(config, args)
        prepared = prepare_database(config, spec.environment(), tags=max(args.connections))
        with Server(spec, log_name=mode) as server:
            log(f"{spec.label} up on {server.port} (pid {server.pid}): {' '.join(server.cmd)}")
            warm_up(server, args)
            for n in args.connections:
                reports = []
                for attempt in range(args.repeat):
                    log(f"{mode} {spec.label} {n} connections (run {attempt + 1}/{args.repeat})")
                    reports.append(measure_traffic(server, mode, n, prefix, args))
                    log(
                        f"  {reports[-1]['msgs_per_s']} msgs/s, "
                        f"p99 {reports[-1]['latency'].get('p99_ms')} ms, "
                        f"server {reports[-1]['cpu'].get('server_cpu_pct')}% CPU"
                    )
                rows.append(traffic_row(spec, server, n, median_report(reports)))
            servers.append(
                {
                    **spec.describe(),
                    "command": shown(server.cmd),
                    "log_problems": server.log_problems(),
                    "commit_probe": prepared.get("commit_probe"),
                }
            )
    if mode == "durable":
        redis_cleanup()
    add_ratios(rows)
    return {"rows": rows, "servers": servers}


def scenario_idle(args) -> dict:
    rows, servers = [], []
    for config in args.servers:
        spec = spec_for(config, args)
        prepare_database(config, spec.environment(), tags=0)
        for n in args.connections:
            # A fresh server per size: the baseline must not carry an earlier run's heap.
            with Server(spec, log_name=f"idle{n}") as server:
                log(f"idle {spec.label} {n} connections (pid {server.pid})")
                warm_up(server, args)
                time.sleep(2.0)
                before = rss_kib(server.pid)
                meter = CpuMeter([server.pid])
                seen: dict = {}

                async def hook(event: str, info: dict, server=server, meter=meter, seen=seen):
                    if event == "connected":
                        await asyncio.sleep(args.settle)
                        seen["after"] = rss_kib(server.pid)
                        meter.start()
                    elif event == "hold_end":
                        meter.stop()
                        seen["end"] = rss_kib(server.pid)

                opts = traffic_options(server, n, "IDLE-", args)
                report = asyncio.run(loadgen.run_idle(opts, args.duration, hook, quiet=args.quiet))
                connected = report["connect"]["connected"] or 1
                rows.append(
                    {
                        "server": spec.label,
                        "database": spec.describe()["database"],
                        "connections": n,
                        "connected": report["connect"]["connected"],
                        "connect_s": report["connect"]["seconds"],
                        "rss_before_kib": before,
                        "rss_after_kib": seen.get("after"),
                        "rss_end_kib": seen.get("end"),
                        "kib_per_connection": round(
                            (seen.get("after", before) - before) / connected, 1
                        ),
                        "idle_server_cpu_pct": meter.result.get("server_cpu_pct"),
                        "hold_s": args.duration,
                        "connections_lost": report["connections_lost"],
                        "errors": report["errors"],
                        "report": report,
                    }
                )
                log(
                    f"  {rows[-1]['kib_per_connection']} KiB/connection, "
                    f"lost {report['connections_lost']}"
                )
                problems = server.log_problems()
            servers.append(
                {**spec.describe(), "command": shown(server.cmd), "log_problems": problems}
            )
    return {"rows": rows, "servers": servers}


def scenario_storm(args) -> dict:
    rows, servers = [], []
    for config in args.servers:
        spec = spec_for(config, args)
        env = spec.environment()
        prepare_database(config, env, tags=0)
        for n in args.connections:
            with Server(spec, log_name=f"storm{n}") as server:
                log(f"storm {spec.label} {n} connections (pid {server.pid})")
                warm_up(server, args)
                problems_before = server.log_problems()
                checks: dict = {}

                async def hook(event: str, info: dict, config=config, env=env, checks=checks, n=n):
                    if event == "reconnected" and config != "echo":
                        await asyncio.sleep(3.0)  # let the old sockets' disconnects finish
                        proc = await asyncio.create_subprocess_exec(
                            "taskset",
                            "-c",
                            str(LOADGEN_CORE),
                            str(VENV_BIN / "python"),
                            "-m",
                            "bench.django_tasks",
                            "online",
                            "--prefix",
                            "STORM-",
                            "--count",
                            str(n),
                            env=env,
                            cwd=PROJECT,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                        )
                        out, _ = await proc.communicate()
                        try:
                            checks.update(json.loads(out))
                        except ValueError:
                            checks["error"] = out.decode()[-500:]

                opts = traffic_options(server, n, "STORM-", args)
                opts.connect_concurrency = args.connect_concurrency
                report = asyncio.run(loadgen.run_storm(opts, args.duration, hook, quiet=args.quiet))
                after = server.log_problems()
                problems = {k: after[k] - problems_before.get(k, 0) for k in after}
                rows.append(
                    {
                        "server": spec.label,
                        "database": spec.describe()["database"],
                        "connections": n,
                        "dropped": report["dropped"],
                        "reconnected": report["reconnected"],
                        "never_reconnected": report["never_reconnected"],
                        "failed_attempts": report["failed_attempts"],
                        "failed_by_reason": report["failed_attempts_by_reason"],
                        "seconds_to_all": report["seconds_to_all_reconnected"],
                        "reconnect_p50_s": report["reconnect_time"].get("p50_s"),
                        "reconnect_p99_s": report["reconnect_time"].get("p99_s"),
                        "online_in_db": checks.get("online"),
                        "open_sockets_after": report["dropped"] - report["closed_after_reconnect"]
                        if report["reconnected"]
                        else 0,
                        "server_log_problems": problems,
                        "report": report,
                    }
                )
                log(
                    f"  {report['reconnected']}/{report['dropped']} back in "
                    f"{report['seconds_to_all_reconnected']} s, "
                    f"{report['failed_attempts']} failed attempts"
                )
            servers.append({**spec.describe(), "command": shown(server.cmd)})
    redis_cleanup()
    return {"rows": rows, "servers": servers}


async def _command_client(
    env: dict, server: Server, ids: str, concurrency: int, via: str, args
) -> dict:
    out_path = Path(tempfile.mkstemp(prefix="bench-cmd-", suffix=".json")[1])
    proc = await asyncio.create_subprocess_exec(
        "taskset",
        "-c",
        str(LOADGEN_CORE),
        str(VENV_BIN / "python"),
        "-m",
        "bench.django_tasks",
        "command",
        "--ids",
        ids,
        "--count",
        str(args.count),
        "--concurrency",
        str(concurrency),
        "--via",
        via,
        "--base",
        server.http,
        "--json",
        str(out_path),
        env=env,
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"command client failed: {err.decode()[-2000:]}")
    result = json.loads(out_path.read_text())
    out_path.unlink()
    return result


def scenario_command(args) -> dict:
    rows, servers = [], []
    for config in args.servers:
        if config == "echo":
            continue
        spec = spec_for(config, args)
        env = spec.environment()
        prepare_database(config, env, tags=0)
        with Server(spec, log_name="command") as server:
            log(f"command {spec.label} (pid {server.pid})")
            warm_up(server, args)
            n = args.connections[0]

            async def hook(event: str, info: dict, env=env, server=server, spec=spec, n=n):
                if event != "connected":
                    return
                ids = ",".join(info["charge_points"])
                vias = ["shell", "api"] if args.via == "auto" else [args.via]
                for via in vias:
                    for concurrency in args.concurrency:
                        result = await _command_client(env, server, ids, concurrency, via, args)
                        if result.get("unavailable"):
                            log("  no command endpoint in the API: command_send only")
                            break
                        latency = result["latency"]
                        rows.append(
                            {
                                "server": spec.label,
                                "database": spec.describe()["database"],
                                "via": "API (HTTP, token)"
                                if result["via"] == "api"
                                else "command_send",
                                "charge_points": n,
                                "concurrency": concurrency,
                                "commands": result["commands"],
                                "commands_per_s": result["commands_per_s"],
                                "p50_ms": latency.get("p50_ms"),
                                "p95_ms": latency.get("p95_ms"),
                                "p99_ms": latency.get("p99_ms"),
                                "max_ms": latency.get("max_ms"),
                                "outcomes": result["outcomes"],
                            }
                        )
                        log(
                            f"  {via} concurrency {concurrency}: "
                            f"p50 {latency.get('p50_ms')} p99 {latency.get('p99_ms')} ms"
                        )

            opts = traffic_options(server, n, "CMD-", args)
            report = asyncio.run(loadgen.run_idle(opts, 0.5, hook, quiet=args.quiet))
            for row in rows:
                row["answered_by_charge_points"] = report["server_calls"]
            servers.append(
                {
                    **spec.describe(),
                    "command": shown(server.cmd),
                    "log_problems": server.log_problems(),
                }
            )
    return {"rows": rows, "servers": servers}


def scenario_profile(args) -> dict:
    """py-spy the server during the measurement window (heartbeat or durable).

    Two recordings of the same window: --gil (CPU) and --idle (wall time of
    every thread), both --nonblocking so that the server is never paused.
    """
    config = args.servers[0]
    spec = spec_for(config, args)
    prepared = prepare_database(config, spec.environment(), tags=max(args.connections))
    n = args.connections[0]
    stem = WORK_DIR / f"profile-{args.mode}-{spec.label}-{n}-{int(time.time())}"
    raw = {"gil": Path(f"{stem}-gil.txt"), "idle": Path(f"{stem}-idle.txt")}
    with Server(spec, log_name="profile") as server:
        warm_up(server, args)
        meter = CpuMeter([server.pid])
        spies: dict = {}

        async def hook(event: str, info: dict):
            if event == "window_start":
                meter.start()
                for kind, path in raw.items():
                    spies[kind] = await asyncio.create_subprocess_exec(
                        "taskset",
                        "-c",
                        str(LOADGEN_CORE),
                        str(VENV_BIN / "py-spy"),
                        "record",
                        "--pid",
                        str(server.pid),
                        "--duration",
                        str(int(args.duration)),
                        "--rate",
                        str(args.rate),
                        "--format",
                        "raw",
                        "--threads",
                        "--nonblocking",
                        f"--{kind}",
                        "-o",
                        str(path),
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE,
                    )
            elif event == "window_end":
                meter.stop()
                for kind, proc in spies.items():
                    _, err = await proc.communicate()
                    spies[kind] = err.decode()[-500:]

        opts = traffic_options(server, n, "HB-" if args.mode == "heartbeat" else "TX-", args)
        report = asyncio.run(
            loadgen.run_traffic(args.mode, opts, args.duration, args.warmup, hook, quiet=args.quiet)
        )
        report["cpu"] = meter.result
        report["server_us_per_msg"] = round(
            meter.result["server_cpu_s"] * 1e6 / (report["msgs"] or 1), 1
        )
        row = traffic_row(spec, server, n, report)
        servers = [
            {
                **spec.describe(),
                "command": shown(server.cmd),
                "commit_probe": prepared.get("commit_probe"),
            }
        ]
    if args.mode == "durable":
        redis_cleanup()
    gil = profile_summarise_gil(str(raw["gil"]), top=args.top) if raw["gil"].exists() else None
    idle = profile_summarise_idle(str(raw["idle"])) if raw["idle"].exists() else None
    return {
        "rows": [row],
        "servers": servers,
        "profile_gil": gil,
        "profile_idle": idle,
        "profile_raw": {k: str(v) for k, v in raw.items()},
        "py_spy_stderr": {k: v for k, v in spies.items() if isinstance(v, str)},
        "profile_markdown": profile_markdown(gil, idle) if gil else "(py-spy produced nothing)",
    }


# Candidate changes, each measured as an environment variable the project reads
# or as a start-up patch in bench/serve.py (the project itself is not changed).
VARIANTS = {
    "baseline": {},
    "debug1": {"env": {"DJANGO_DEBUG": "1"}},
    "validate": {"env": {"OCPP_VALIDATE_RESPONSES": "1"}},
    "nojournal": {"env": {"OCPP_JOURNAL_ENABLED": "0"}},
    "gc": {"patches": ["gc"]},
    "nohealth": {"patches": ["nohealth"]},
    "hbnodb": {"patches": ["hbnodb"]},
    "threadfree": {"patches": ["threadfree"]},
    "nojsonvalid": {"patches": ["nojsonvalid"]},
    "uvicorn": {"asgi": "uvicorn"},
    "sqlitepersist": {"patches": ["sqlitepersist"]},
    "nodispatchclose": {"patches": ["nodispatchclose"]},
    "switch": {"patches": ["switch"]},
    "pgpool": {"patches": ["pgpool"]},
    "ssbinding": {"patches": ["ssbinding"]},
    "combined": {"patches": ["gc", "switch", "nohealth", "nodispatchclose", "hbnodb"]},
    "combined-uvicorn": {
        "asgi": "uvicorn",
        "patches": ["gc", "switch", "nohealth", "nodispatchclose", "hbnodb"],
    },
    "combined-threadfree": {"patches": ["gc", "nohealth", "nodispatchclose", "threadfree"]},
    "combined-durable": {
        "env": {"OCPP_JOURNAL_ENABLED": "0"},
        "patches": ["gc", "nohealth", "nodispatchclose", "threadfree", "ssbinding"],
    },
}


def scenario_variants(args) -> dict:
    """Each variant on a fresh server; rounds interleaved (A B C, A B C, ...) so that
    a noisy moment on a shared machine does not land on one variant only."""
    names = args.only.split(",") if args.only else list(VARIANTS)
    config = args.servers[0]
    base_env = parse_env(args.env)
    prefix = "HB-" if args.mode == "heartbeat" else "TX-"
    prepared = prepare_database(
        config, spec_for(config, args).environment(), tags=max(args.connections)
    )
    reports: dict = {(name, n): [] for name in names for n in args.connections}
    specs, servers = {}, {}
    for round_number in range(args.repeat):
        for name in names:
            variant = VARIANTS[name]
            spec = specs[name] = ServerSpec(
                config=config,
                asgi=variant.get("asgi", args.asgi),
                env={**base_env, **variant.get("env", {})},
                patches=variant.get("patches", []),
                label=name,
            )
            with Server(spec, log_name=f"variant-{args.mode}") as server:
                warm_up(server, args)
                for n in args.connections:
                    log(
                        f"variant {name}: {args.mode} {n} connections "
                        f"(round {round_number + 1}/{args.repeat})"
                    )
                    report = measure_traffic(server, args.mode, n, prefix, args)
                    reports[(name, n)].append(report)
                    log(
                        f"  {report['msgs_per_s']} msgs/s, "
                        f"p99 {report['latency'].get('p99_ms')} ms, "
                        f"{report['server_us_per_msg']} us/msg"
                    )
                servers[name] = {
                    **spec.describe(),
                    "command": shown(server.cmd),
                    "log_problems": server.log_problems(),
                }
    rows = []
    for (name, n), runs in reports.items():
        row = traffic_row(specs[name], None, n, median_report(runs))
        row["variant"] = name
        row["server_us_per_msg_all"] = [r["server_us_per_msg"] for r in runs]
        rows.append(row)
    base = {r["connections"]: r for r in rows if r["variant"] == "baseline"}
    for row in rows:
        ref = base.get(row["connections"])
        if ref and ref["msgs_per_s"]:
            row["vs_baseline"] = round(row["msgs_per_s"] / ref["msgs_per_s"], 2)
            row["cpu_vs_baseline"] = round(row["server_us_per_msg"] / ref["server_us_per_msg"], 2)
    if args.mode == "durable":
        redis_cleanup()
    server_list = list(servers.values())
    if server_list:
        server_list[0]["commit_probe"] = prepared.get("commit_probe")
    return {"rows": rows, "servers": server_list}


# --- results -------------------------------------------------------------------

COLUMNS = {
    "heartbeat": [
        ("server", "server"),
        ("database", "database"),
        ("connections", "conns"),
        ("msgs_per_s", "msgs/s"),
        ("ratio_to_echo", "x echo"),
        ("p50_ms", "p50 ms"),
        ("p99_ms", "p99 ms"),
        ("server_cpu_pct", "server CPU %"),
        ("server_us_per_msg", "server us/msg"),
        ("loadgen_cpu_pct", "loadgen CPU %"),
        ("db_cpu_pct", "PG+Redis CPU %"),
        ("other_cpu_pct", "other CPU %"),
        ("cpu_pressure_pct", "CPU wait %"),
        ("errors", "errors"),
        ("call_errors", "CALLERRORs"),
    ],
    "idle": [
        ("server", "server"),
        ("connections", "conns"),
        ("connected", "connected"),
        ("connect_s", "connect s"),
        ("rss_before_kib", "RSS before KiB"),
        ("rss_after_kib", "RSS after KiB"),
        ("kib_per_connection", "KiB/conn"),
        ("idle_server_cpu_pct", "idle server CPU %"),
        ("connections_lost", "lost"),
    ],
    "storm": [
        ("server", "server"),
        ("connections", "conns"),
        ("reconnected", "reconnected"),
        ("never_reconnected", "never"),
        ("failed_attempts", "failed handshakes/CALLs"),
        ("seconds_to_all", "s to all back"),
        ("reconnect_p50_s", "p50 s"),
        ("reconnect_p99_s", "p99 s"),
        ("online_in_db", "online in DB after"),
        ("open_sockets_after", "sockets open after"),
    ],
    "command": [
        ("server", "server"),
        ("via", "via"),
        ("charge_points", "charge points"),
        ("concurrency", "concurrency"),
        ("commands", "commands"),
        ("commands_per_s", "commands/s"),
        ("p50_ms", "p50 ms"),
        ("p95_ms", "p95 ms"),
        ("p99_ms", "p99 ms"),
        ("max_ms", "max ms"),
        ("outcomes", "outcomes"),
    ],
}
COLUMNS["durable"] = COLUMNS["heartbeat"]
COLUMNS["profile"] = COLUMNS["heartbeat"]
COLUMNS["variants"] = [
    ("variant", "variant"),
    ("vs_baseline", "msgs/s x baseline"),
    ("cpu_vs_baseline", "CPU/msg x baseline"),
    ("repeats_msgs_per_s", "msgs/s of each round"),
] + [c for c in COLUMNS["heartbeat"] if c[0] not in ("server", "database", "ratio_to_echo")]

WHAT = {
    "heartbeat": "Heartbeat round trips, one CALL in flight per connection, back to back.",
    "durable": "StartTransaction, 5 x MeterValues (3 sampled values), StopTransaction per "
    "connection, back to back; every record committed before its CALLRESULT.",
    "idle": "N connections booted then silent; server RSS before and after (KiB per connection).",
    "storm": "N connected charge points drop at once and reconnect at once (full-jitter "
    "exponential back-off, base 0.25 s, cap 8 s); reconnected = handshake + a Heartbeat answered.",
    "command": "Reset sent to connected simulated charge points (which answer at once), "
    "through ocpp_consumer.commands.command_send (or the API when present); time from the call "
    "to its recorded outcome.",
    "profile": "py-spy (--gil and --idle, --nonblocking, 100 Hz) of the server during the "
    "measurement window.",
    "variants": "Each candidate change measured alone, same load, same run (see bench/README.md).",
}


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value) or "-"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(scenario: str, rows: list[dict]) -> str:
    columns = COLUMNS[scenario]
    lines = [
        "| " + " | ".join(title for _, title in columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(key)) for key, _ in columns) + " |")
    return "\n".join(lines)


def by_action_table(rows: list[dict]) -> str:
    lines = [
        "| server | conns | action | msgs/s | p50 ms | p95 ms | p99 ms |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        for action, s in (row.get("by_action") or {}).items():
            lines.append(
                f"| {row['server']} | {row['connections']} | {action} | "
                f"{_cell(s.get('msgs_per_s'))} | "
                f"{_cell(s.get('p50_ms'))} | {_cell(s.get('p95_ms'))} | {_cell(s.get('p99_ms'))} |"
            )
    return "\n".join(lines)


def machine_block(machine: dict) -> str:
    v = machine["versions"]
    return "\n".join(
        [
            f"- Date: {machine['date']}",
            f"- Machine: {machine['nproc']} cores, {machine['cpu_model']}, "
            f"{machine['ram_gib']} GiB RAM, Linux {machine['kernel']}; load average at start "
            + ", ".join(f"{x:.2f}" for x in machine["loadavg_at_start"]),
            f"- Python {machine['python']}, Django {v['Django']}, Channels {v['channels']}, "
            f"Daphne {v['daphne']} (Twisted {v['Twisted']}, Autobahn {v['autobahn']}), "
            f"channels-redis {v['channels-redis']}, redis-py {v['redis']}, psycopg {v['psycopg']}, "
            f"websockets {v['websockets']}, uvicorn {v['uvicorn']}",
            f"- PostgreSQL {machine['postgresql']}, Redis {machine['redis_server']} (127.0.0.1)",
            "- Pinning: server `taskset -c 0`, load generator (this process) on core "
            f"{LOADGEN_CORE}; "
            "PostgreSQL and Redis are not pinned"
            + (f"; server and load generator at nice {NICE} (BENCH_NICE)" if NICE else "")
            + (f", EEVDF slice {SLICE_US} us (BENCH_SLICE_US)" if SLICE_US else ""),
        ]
    )


def shown(cmd: list[str] | str) -> str:
    """A server command line as run from the project folder."""
    text = cmd if isinstance(cmd, str) else " ".join(cmd)
    return text.replace(f"{PROJECT}/", "")


def write_results(scenario: str, args, result: dict, machine: dict, command: str) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stem = f"{datetime.now(UTC):%Y-%m-%d}-{scenario}"
    if scenario in ("variants", "profile"):
        stem += f"-{args.mode}"
    if args.label:
        stem += f"-{args.label}"
    rows = result["rows"]
    clean_rows = [{k: v for k, v in row.items() if k != "report"} for row in rows]
    document = {
        "scenario": scenario,
        "what": WHAT[scenario],
        "command": command,
        "machine": machine,
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "client": args.client,
            "repeat": args.repeat,
        },
        **{k: v for k, v in result.items() if k not in ("rows", "profile_markdown")},
        "rows": clean_rows,
        "raw_reports": [row.get("report") for row in rows],
    }
    (RESULTS_DIR / f"{stem}.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    md = [
        f"# {scenario}: {WHAT[scenario]}",
        "",
        machine_block(machine),
        f"- Command: `{command}`",
        f"- Load: {args.duration:g} s measured after {args.warmup:g} s warm-up, "
        f"client `{args.client}`, "
        f"repeat {args.repeat} ({'median' if args.repeat != 2 else 'the better of two'} shown)"
        if scenario in ("heartbeat", "durable", "variants", "profile")
        else f"- Hold / deadline: {args.duration:g} s",
        "",
        table(scenario, rows),
        "",
    ]
    if scenario in ("durable", "variants") or (scenario == "profile" and args.mode == "durable"):
        md += ["By action:", "", by_action_table(rows), ""]
    md += ["Servers:", ""]
    for server in result["servers"]:
        md.append(
            f"- `{server['label']}` ({server['database']}): `{server['command']}`"
            + (f" env {server['env']}" if server.get("env") else "")
            + (
                f"; server log: {_cell(server.get('log_problems'))}"
                if server.get("log_problems")
                else ""
            )
            + (
                "; database commit probe (one-row UPDATE, own transaction): "
                + _cell(server["commit_probe"])
                if server.get("commit_probe")
                else ""
            )
        )
    if scenario == "storm":
        md += ["", "Failed attempts by reason:", ""]
        for row in rows:
            md.append(
                f"- {row['server']} {row['connections']}: {_cell(row['failed_by_reason'])}; "
                f"server log lines since the storm: {_cell(row['server_log_problems'])}"
            )
    if scenario == "profile":
        md += ["", result["profile_markdown"], f"Raw profiles: `{result['profile_raw']}`"]
    md += [
        "",
        "CPU columns are % of one core during the measured window: the server process "
        "(all threads), "
        "the load generator, every PostgreSQL and Redis process, and `other` = whatever else ran "
        "on the machine (it competes for the same 2 cores; a large value means a noisy run). "
        "`server us/msg` = server CPU time per answered CALL. `CPU wait %` = Linux PSI "
        "`some` CPU pressure: share of the time some runnable task waited for a core.",
        "",
    ]
    path = RESULTS_DIR / f"{stem}.md"
    path.write_text("\n".join(md))
    return path


# --- entry point ---------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "scenario",
        choices=["heartbeat", "durable", "idle", "storm", "command", "all", "variants", "profile"],
    )
    parser.add_argument("--servers", help="comma-separated: echo, sqlite, pg")
    parser.add_argument("--connections", help="comma-separated counts")
    parser.add_argument(
        "--duration", type=float, help="measured seconds (idle: hold; storm: deadline)"
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
    parser.add_argument("--connect-concurrency", type=int, default=100)
    parser.add_argument(
        "--meter-values", type=int, default=5, help="durable: MeterValues per session"
    )
    parser.add_argument(
        "--settle", type=float, default=3.0, help="idle: seconds before reading RSS"
    )
    parser.add_argument("--count", type=int, default=300, help="command: commands per concurrency")
    parser.add_argument("--concurrency", default="1,10", help="command: commands in flight")
    parser.add_argument("--via", choices=["auto", "shell", "api"], default="auto")
    parser.add_argument("--mode", choices=["heartbeat", "durable"], default="heartbeat")
    parser.add_argument("--only", help="variants: comma-separated names (default: all)")
    parser.add_argument("--rate", type=int, default=100, help="profile: py-spy samples/s")
    parser.add_argument("--top", type=int, default=25, help="profile: functions listed")
    parser.add_argument("--label", help="suffix of the results file name")
    parser.add_argument("-q", "--quiet", action="store_true", help="no per-second progress")
    return parser


def run_one(scenario: str, args, machine: dict, command: str) -> tuple[dict, Path]:
    servers, connections, duration = DEFAULTS[scenario]
    args = argparse.Namespace(**vars(args))
    args.servers = (args.servers or servers).split(",")
    args.connections = [int(x) for x in (args.connections or connections).split(",")]
    args.duration = args.duration if args.duration is not None else duration
    args.concurrency = [int(x) for x in str(args.concurrency).split(",")]
    started = time.perf_counter()
    if scenario in ("heartbeat", "durable"):
        result = scenario_traffic(args, scenario)
    elif scenario == "idle":
        result = scenario_idle(args)
    elif scenario == "storm":
        result = scenario_storm(args)
    elif scenario == "command":
        result = scenario_command(args)
    elif scenario == "profile":
        result = scenario_profile(args)
    else:
        result = scenario_variants(args)
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    path = write_results(scenario, args, result, machine, command)
    log(f"{scenario} done in {result['elapsed_s']} s: {path.relative_to(PROJECT)}")
    return result, path


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
    for scenario in ("heartbeat", "durable", "idle", "storm", "command"):
        result, path = run_one(scenario, args, machine, command)
        parts.append((scenario, result, path))
    summary = [
        f"# Benchmark suite ({datetime.now(UTC):%Y-%m-%d})",
        "",
        machine_block(machine),
        f"- Command: `{command}` ({time.perf_counter() - started:.0f} s in all)",
        "",
    ]
    for scenario, result, path in parts:
        summary += [
            f"## {scenario}",
            "",
            WHAT[scenario],
            "",
            table(scenario, result["rows"]),
            "",
            f"Details: [{path.name}]({path.name})",
            "",
        ]
    out = (
        RESULTS_DIR / f"{datetime.now(UTC):%Y-%m-%d}-all{'-' + args.label if args.label else ''}.md"
    )
    out.write_text("\n".join(summary))
    log(f"suite done: {out.relative_to(PROJECT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

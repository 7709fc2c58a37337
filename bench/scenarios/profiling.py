"""profile and variants: where the server's time goes, and what each candidate change gains."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

from .. import loadgen
from ..profile_report import markdown as profile_markdown
from ..profile_report import summarise_gil as profile_summarise_gil
from ..profile_report import summarise_idle as profile_summarise_idle
from ..servers import (
    LOADGEN_CORE,
    VENV_BIN,
    WORK_DIR,
    Server,
    ServerSpec,
    prepare_database,
    redis_cleanup,
)
from ..sysinfo import CpuMeter
from .common import (
    log,
    measure_traffic,
    median_report,
    parse_env,
    server_record,
    server_specs,
    spec_for,
    traffic_options,
    traffic_row,
    warm_up,
)


def scenario_profile(args) -> dict:
    """py-spy the server during the measurement window (heartbeat or durable).

    Two recordings of the same window: --gil (CPU) and --idle (wall time of
    every thread), both --nonblocking so that the server is never paused.
    """
    spec = server_specs(args)[0]
    prepared = prepare_database(spec.config, spec.environment(), tags=max(args.connections))
    n = args.connections[0]
    stem = WORK_DIR / f"profile-{args.mode}-{spec.label}-{n}-{int(time.time())}"
    raw = {"gil": Path(f"{stem}-gil.txt"), "idle": Path(f"{stem}-idle.txt")}
    with Server(spec, log_name="profile") as server:
        warm_up(server, args)
        meter = CpuMeter(server.pids)
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
                        str(int(args.rate or 100)),
                        "--format",
                        "raw",
                        "--threads",
                        "--nonblocking",
                        *(["--subprocesses"] if spec.processes > 1 else []),
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
        servers = [server_record(spec, server, commit_probe=prepared.get("commit_probe"))]
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
                servers[name] = server_record(spec, server)
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

"""command: remote commands to connected charge points, on one node or across two."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

from .. import loadgen
from ..servers import LOADGEN_CORE, PROJECT, VENV_BIN, Server, prepare_database
from ..sysinfo import CpuMeter
from .common import log, server_record, server_specs, traffic_options, warm_up

VIA_TITLE = {"api": "API (HTTP, token)", "shell": "command_send"}


async def _command_client(env: dict, base: str, ids: str, concurrency: int, via: str, args) -> dict:
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
        base,
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
    """Reset to simulated charge points that answer at once; latency from the call to
    its recorded outcome.

    One node: the charge points and the commands on the same server, through
    command_send (a separate Django process) and through the API. Two nodes
    (--nodes 2): two servers on two ports sharing PostgreSQL and Redis, the
    charge points connected to node A, the commands sent through node B's API,
    so that every command crosses the Redis channel layer from B to A.
    """
    rows, servers = [], []
    for spec in server_specs(args):
        if spec.config == "echo":
            continue
        # The client sends thousands of commands a minute as one operator: at the
        # default API_THROTTLE_OPERATOR (1200/minute) some would be answered 429
        # and the figures would measure the throttle, not the command path.
        spec.env.setdefault("API_THROTTLE_OPERATOR", "1000000/minute")
        env = spec.environment()
        prepare_database(spec.config, env, tags=0)
        for nodes in args.nodes:
            if nodes > 2:
                raise SystemExit("--nodes: 1 or 2")
            if nodes == 2 and spec.config != "pg":
                log(f"{spec.label}: two nodes need PostgreSQL and Redis (pg): skipped")
                continue
            rows += _command_run(spec, env, nodes, args, servers)
    return {"rows": rows, "servers": servers}


def _cpu_per_command(result: dict) -> float | None:
    """Server CPU (both nodes) per command of one run, in ms; None without commands.

    The client's own warm-up commands fall in the same window: a few in hundreds.
    """
    seconds = result.get("cpu", {}).get("server_cpu_s")
    commands = result.get("commands") or 0
    return round(1000 * seconds / commands, 2) if seconds is not None and commands else None


def _median_run(results: list[dict]) -> dict:
    """The run whose p99 is the median of the runs (--repeat), with every run's p99."""
    p99s = [result["latency"].get("p99_ms") or 0.0 for result in results]
    median = statistics.median_low(p99s)
    chosen = results[p99s.index(median)]
    return {**chosen, "repeats_p99_ms": p99s}


def _command_run(spec, env: dict, nodes: int, args, servers: list) -> list[dict]:
    rows: list[dict] = []
    # A charge point takes one command at a time (call_queue.py): N commands in
    # flight need N charge points, else the client's workers would share them
    # and fewer commands would really be in flight than asked.
    n = max(args.connections[0], *args.concurrency)
    with contextlib.ExitStack() as stack:
        node_a = stack.enter_context(Server(spec, log_name="command-nodeA"))
        node_b = (
            stack.enter_context(Server(spec, log_name="command-nodeB")) if nodes == 2 else node_a
        )
        where = "1" if nodes == 1 else "2: charge points on A, API on B"
        pids = f"pid {node_a.pid}" if nodes == 1 else f"A pid {node_a.pid}, B pid {node_b.pid}"
        log(f"command {spec.label}, {nodes} node(s) ({pids})")
        warm_up(node_a, args)
        if nodes == 2:
            warm_up(node_b, args)
        if nodes == 2:
            vias = ["api"] if args.via in ("auto", "api") else []
            if not vias:
                log("  --via shell does not use node B: two nodes measure the API only")
        else:
            vias = ["shell", "api"] if args.via == "auto" else [args.via]

        async def hook(event: str, info: dict) -> None:
            if event != "connected":
                return
            ids = ",".join(info["charge_points"])
            for via in vias:
                for concurrency in args.concurrency:
                    runs, load = [], []
                    for _ in range(max(args.repeat, 1)):
                        load.append(round(os.getloadavg()[0], 2))
                        # Both nodes' CPU: per command, it shows the work whatever
                        # else the shared machine runs meanwhile.
                        meter = CpuMeter(lambda: sorted({*node_a.pids(), *node_b.pids()}))
                        meter.start()
                        run = await _command_client(env, node_b.http, ids, concurrency, via, args)
                        run["cpu"] = meter.stop()
                        runs.append(run)
                        if runs[-1].get("unavailable"):
                            break
                    if runs[-1].get("unavailable"):
                        log("  no command endpoint in the API: command_send only")
                        break
                    result = _median_run(runs)
                    latency = result["latency"]
                    rows.append(
                        {
                            "server": spec.label,
                            "database": spec.describe()["database"],
                            "nodes": where,
                            "via": VIA_TITLE.get(result["via"], result["via"]),
                            "charge_points": n,
                            "concurrency": concurrency,
                            "commands": result["commands"],
                            "commands_per_s": result["commands_per_s"],
                            "p50_ms": latency.get("p50_ms"),
                            "p95_ms": latency.get("p95_ms"),
                            "p99_ms": latency.get("p99_ms"),
                            "max_ms": latency.get("max_ms"),
                            "outcomes": result["outcomes"],
                            "repeats_p99_ms": result["repeats_p99_ms"],
                            "load_average_1m": load,
                            "server_cpu_ms_per_command": _cpu_per_command(result),
                            "db_cpu_pct": result["cpu"].get("db_cpu_pct"),
                            "other_cpu_pct": result["cpu"].get("other_cpu_pct"),
                            "cpu_pressure_pct": result["cpu"].get("cpu_pressure_pct"),
                        }
                    )
                    log(
                        f"  {via} ({nodes} node(s)) concurrency {concurrency}: "
                        f"p50 {latency.get('p50_ms')} p99 {latency.get('p99_ms')} ms "
                        f"(p99 of each run {result['repeats_p99_ms']}, load {load})"
                    )

        opts = traffic_options(node_a, n, "CMD-", args)
        report = asyncio.run(loadgen.run_idle(opts, 0.5, hook, quiet=args.quiet))
        for row in rows:
            row["answered_by_charge_points"] = report["server_calls"]
        servers.append(server_record(spec, node_a, nodes=nodes, node="A" if nodes == 2 else ""))
        if nodes == 2:
            servers.append(server_record(spec, node_b, nodes=nodes, node="B"))
    return rows

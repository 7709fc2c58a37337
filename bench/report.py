"""Results files: the Markdown tables and JSON of each run, the suite summary, `latest.*`.

Every file says where and how it was measured (machine, versions, pinning,
the exact command) next to the figures, so that a number quoted later can be
traced back to its run.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from . import plot
from .sched import NICE, SLICE_US
from .servers import LOADGEN_CORE

RESULTS_DIR = Path(os.environ.get("BENCH_RESULTS_DIR", Path(__file__).resolve().parent / "results"))

_TRAFFIC = [
    ("server", "server"),
    ("ocpp", "OCPP"),
    ("database", "database"),
    ("connections", "conns"),
    ("target_rate", "target msgs/s"),
    ("msgs_per_s", "msgs/s"),
    ("ratio_to_echo", "x echo"),
    ("p50_ms", "p50 ms"),
    ("p99_ms", "p99 ms"),
    ("service_p99_ms", "send-to-answer p99 ms"),
    ("unanswered", "unanswered"),
    ("server_cpu_pct", "server CPU %"),
    ("server_us_per_msg", "server us/msg"),
    ("loadgen_cpu_pct", "loadgen CPU %"),
    ("db_cpu_pct", "PG+Redis CPU %"),
    ("other_cpu_pct", "other CPU %"),
    ("cpu_pressure_pct", "CPU wait %"),
    ("errors", "errors"),
    ("call_errors", "CALLERRORs"),
]
# Shown only when some row has a value (fixed-rate runs).
OPTIONAL = {"target_rate", "service_p99_ms", "unanswered", "ocpp"}

# durable: what the worker did meanwhile (deployed: the outbox relay invoicing each
# ended session; --no-worker: nothing, the backlog only grows).
_INVOICING = [
    ("sessions_ended", "sessions ended"),
    ("invoices_at_end", "invoiced by the end"),
    ("outbox_pending_at_end", "invoicing backlog at end"),
    ("invoicing_lag_p99_ms", "invoicing lag p99 ms"),
    ("drain_s", "s until all invoiced"),
    ("worker_cpu_pct", "worker CPU %"),
]

COLUMNS = {
    "heartbeat": _TRAFFIC,
    "durable": _TRAFFIC + _INVOICING,
    "profile": _TRAFFIC,
    "halfpeak": [
        ("server", "server"),
        ("ocpp", "OCPP"),
        ("connections", "conns"),
        ("peak_msgs_per_s", "peak msgs/s (closed loop)"),
        ("peak_p99_ms", "p99 ms at peak"),
        ("target_rate", "fixed rate msgs/s"),
        ("msgs_per_s", "answered msgs/s"),
        ("p50_ms", "p50 ms"),
        ("p95_ms", "p95 ms"),
        ("p99_ms", "p99 ms"),
        ("service_p99_ms", "send-to-answer p99 ms"),
        ("unanswered", "unanswered"),
        ("server_cpu_pct", "server CPU %"),
        ("server_us_per_msg", "server us/msg"),
        ("loadgen_loop_lag_p99_ms", "loadgen loop lag p99 ms"),
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
    "soak": [
        ("server", "server"),
        ("connections", "conns"),
        ("connected", "connected"),
        ("ramp_s", "ramp s"),
        ("peak_open", "peak open"),
        ("lost", "lost in hold"),
        ("reconnects", "reconnects"),
        ("open_at_end", "open at end"),
        ("online_in_db", "online in DB at end"),
        ("rss_start_kib", "RSS start KiB"),
        ("rss_connected_kib", "RSS connected KiB"),
        ("rss_end_kib", "RSS end KiB"),
        ("kib_per_connection", "KiB/conn"),
        ("target_rate", "target msgs/s"),
        ("msgs_per_s", "msgs/s"),
        ("p50_ms", "p50 ms"),
        ("p99_ms", "p99 ms"),
        ("call_errors", "CALLERRORs"),
        ("errors", "errors"),
        ("server_cpu_pct", "server CPU %"),
        ("worker_cpu_pct", "worker CPU %"),
        ("other_cpu_pct", "other CPU %"),
    ],
    "fleet": [
        ("server", "server"),
        ("connections", "conns"),
        ("connected", "connected"),
        ("ramp_s", "ramp s"),
        ("open_at_end", "open at end"),
        ("lost", "lost"),
        ("msgs_per_s", "msgs/s"),
        ("p50_ms", "p50 ms"),
        ("p99_ms", "p99 ms"),
        ("errors", "errors"),
        ("call_errors", "CALLERRORs"),
        ("kib_per_connection_idle", "KiB/conn idle"),
        ("kib_per_connection_loaded", "KiB/conn loaded"),
        ("server_cpu_pct", "server CPU %"),
        ("postgres_cpu_pct", "PG CPU %"),
        ("redis_cpu_pct", "Redis CPU %"),
        ("worker_cpu_pct", "worker CPU %"),
        ("loadgen_cpu_pct", "loadgen CPU %"),
        ("other_cpu_pct", "other CPU %"),
        ("nothing_lost", "nothing lost"),
        ("sessions_ended", "sessions ended"),
        ("invoices_at_end", "invoiced by the end"),
        ("outbox_pending_at_end", "invoicing backlog at end"),
        ("load_average", "load avg 1 min"),
    ],
    "command": [
        ("server", "server"),
        ("nodes", "nodes"),
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
        ("repeats_p99_ms", "p99 ms of each run"),
        ("load_average_1m", "load average (1 min) at each run"),
        ("server_cpu_ms_per_command", "server CPU ms/command"),
        ("db_cpu_pct", "DB CPU %"),
        ("other_cpu_pct", "other CPU %"),
        ("cpu_pressure_pct", "CPU wait %"),
    ],
}
COLUMNS["variants"] = [
    ("variant", "variant"),
    ("vs_baseline", "msgs/s x baseline"),
    ("cpu_vs_baseline", "CPU/msg x baseline"),
    ("repeats_msgs_per_s", "msgs/s of each round"),
] + [c for c in _TRAFFIC if c[0] not in ("server", "ocpp", "database", "ratio_to_echo")]

WHAT = {
    "heartbeat": "Heartbeat round trips, one CALL in flight per connection, back to back "
    "(with --rate: at that fixed total rate, latency from the scheduled send time).",
    "durable": "StartTransaction, 5 x MeterValues (3 sampled values), StopTransaction per "
    "connection, back to back (OCPP 2.0.1: TransactionEvent Started, 5 x Updated, Ended); "
    "every record committed before its CALLRESULT.",
    "halfpeak": "Peak Heartbeat msgs/s (closed loop), then the same connections at a fixed "
    "total rate of half that peak, each on its own schedule (random phase); latency from the "
    "scheduled send time, so a CALL held back by a late answer counts with its wait.",
    "idle": "N connections booted then silent; server RSS before and after (KiB per connection).",
    "storm": "N connected charge points drop at once and reconnect at once (full-jitter "
    "exponential back-off, base 0.25 s, cap 8 s); reconnected = handshake + a Heartbeat answered.",
    "soak": "N charge points ramped up, each sending a Heartbeat at a fixed interval for the "
    "hold; connections lost (closed by the server or dropped) and reconnected, server RSS, "
    "msgs/s, latency from the schedule, CALLERRORs.",
    "fleet": "N charge points, each with one connector: Heartbeat every --heartbeat-interval s, "
    "sessions (StatusNotification Preparing, StartTransaction, Charging, MeterValues every "
    "--meter-interval s, StopTransaction, Finishing, Available) on about --charging-share of "
    "the connectors; latency from the scheduled send time; afterwards the database is checked "
    "against every answered StartTransaction, MeterValues and StopTransaction.",
    "command": "Reset sent to connected simulated charge points (which answer at once), "
    "through ocpp_consumer.commands.command_send or the API; with two nodes, charge points on "
    "node A and the API of node B; time from the call to its recorded outcome.",
    "profile": "py-spy (--gil and --idle, --nonblocking, 100 Hz) of the server during the "
    "measurement window.",
    "variants": "Each candidate change measured alone, same load, same run (see bench/README.md).",
}
PLOTTED = ("heartbeat", "durable", "halfpeak", "variants")
_CLOSED_LOOP_LOAD = ("heartbeat", "durable", "variants", "profile", "halfpeak")


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
    columns = [
        (key, title)
        for key, title in COLUMNS[scenario]
        if key not in OPTIONAL or any(row.get(key) is not None for row in rows)
    ]
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
        server = row["server"] + (f" (OCPP {row['ocpp']})" if row.get("ocpp") else "")
        for action, s in (row.get("by_action") or {}).items():
            lines.append(
                f"| {server} | {row['connections']} | {action} | "
                f"{_cell(s.get('msgs_per_s'))} | "
                f"{_cell(s.get('p50_ms'))} | {_cell(s.get('p95_ms'))} | {_cell(s.get('p99_ms'))} |"
            )
    return "\n".join(lines)


def pinning(servers: list[dict]) -> str:
    """Which cores the servers of a run had, and the load generator's."""
    by_processes = sorted({(s.get("processes") or 1, s.get("cores") or "0") for s in servers})
    parts = []
    for processes, cores in by_processes or [(1, "0")]:
        who = "one-process servers" if processes == 1 else f"{processes}-process servers"
        shared = " (every core: shares one with the load generator)" if processes > 1 else ""
        parts.append(f"{who} `taskset -c {cores}`{shared}")
    return (
        "- Pinning: "
        + "; ".join(parts)
        + f"; load generator (this process) on core {LOADGEN_CORE}; "
        + "PostgreSQL and Redis are not pinned"
        + (f"; server and load generator at nice {NICE} (BENCH_NICE)" if NICE else "")
        + (f", EEVDF slice {SLICE_US} us (BENCH_SLICE_US)" if SLICE_US else "")
    )


def machine_block(machine: dict, servers: list[dict] | None = None) -> str:
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
            pinning(servers or []),
        ]
    )


def _load_line(scenario: str, args) -> str:
    if scenario in _CLOSED_LOOP_LOAD:
        repeat = (
            f"repeat {args.repeat} ({'median' if args.repeat != 2 else 'the better of two'} shown)"
        )
        rate = f", fixed rate {args.rate:g} msgs/s" if scenario == "heartbeat" and args.rate else ""
        return (
            f"- Load: {args.duration:g} s measured after {args.warmup:g} s warm-up{rate}, "
            f"client `{args.client}`, {repeat}, {_versions(args)}"
        )
    if scenario == "fleet":
        return (
            f"- Traffic: {args.duration:g} s after the ramp (at most {args.connect_concurrency} "
            f"handshakes at a time in all), Heartbeat every {args.heartbeat_interval:g} s, "
            f"MeterValues every {args.meter_interval:g} s while charging, mean session "
            f"{args.session_length:g} s, {args.charging_share:.2f} of connectors charging; "
            f"idle RSS read {args.settle:g} s after the ramp; "
            f"{'no worker' if args.no_worker else 'Celery worker -B running'}"
        )
    if scenario == "soak":
        return (
            f"- Hold: {args.duration:g} s after the ramp (at most {args.connect_concurrency} "
            f"handshakes at a time), a Heartbeat every {args.interval:g} s per charge point, "
            f"RSS read {args.settle:g} s after the ramp, {_versions(args)}"
        )
    if scenario == "command":
        return f"- {args.count} commands per concurrency level, nodes {_cell(args.nodes)}, OCPP 1.6"
    return f"- Hold / deadline: {args.duration:g} s, {_versions(args)}"


def _versions(args) -> str:
    versions = getattr(args, "ocpp_versions", None) or ["1.6"]
    return "OCPP " + " and ".join(versions)


def _clean(row: dict) -> dict:
    return {k: v for k, v in row.items() if not k.endswith("report")}


def _stem(scenario: str, args) -> str:
    stem = f"{datetime.now(UTC):%Y-%m-%d}-{scenario}"
    if scenario in ("variants", "profile"):
        stem += f"-{args.mode}"
    versions = getattr(args, "ocpp_versions", None) or ["1.6"]
    if versions != ["1.6"]:  # 1.6 alone keeps the names of the earlier results
        stem += "-ocpp" + "+".join(version.replace(".", "") for version in versions)
    if args.label:
        stem += f"-{args.label}"
    return stem


def write_results(scenario: str, args, result: dict, machine: dict, command: str) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stem = _stem(scenario, args)
    rows = result["rows"]
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
            "processes": args.processes,
            "rate": args.rate if scenario == "heartbeat" else None,
            "interval_s": args.interval if scenario == "soak" else None,
            "nodes": args.nodes if scenario == "command" else None,
            "ocpp_versions": getattr(args, "ocpp_versions", None) or ["1.6"],
        },
        **{
            k: v
            for k, v in result.items()
            if k not in ("rows", "profile_markdown", "extra_markdown")
        },
        "rows": [_clean(row) for row in rows],
        "raw_reports": [row.get("report") for row in rows],
    }
    if any("peak_report" in row for row in rows):
        document["raw_peak_reports"] = [row.get("peak_report") for row in rows]
    (RESULTS_DIR / f"{stem}.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    md = [
        f"# {scenario}: {WHAT[scenario]}",
        "",
        machine_block(machine, result["servers"]),
        f"- Command: `{command}`",
        _load_line(scenario, args),
        "",
        table(scenario, rows),
        "",
    ]
    image = None
    if scenario in PLOTTED and len({row["connections"] for row in rows}) > 1:
        image = plot.scenario_plot(scenario, rows, RESULTS_DIR / f"{stem}.png")
    if image:
        md += [f"![msgs/s and p99 against connections]({image.name})", ""]
    if scenario in ("durable", "variants") or (scenario == "profile" and args.mode == "durable"):
        md += ["By action:", "", by_action_table(rows), ""]
    md += ["Servers:", ""]
    for server in result["servers"]:
        md.append(
            f"- `{server['label']}`{' node ' + server['node'] if server.get('node') else ''} "
            f"({server['database']}): `{server['command']}`"
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
    if scenario == "soak":
        md += ["", "Connections lost in the hold, by reason; server log lines since the ramp:", ""]
        for row in rows:
            md.append(
                f"- {row['server']} {row['connections']}: {_cell(row['lost_by_reason'])}; "
                f"lost during the ramp: {row['lost_during_ramp']}; "
                f"log: {_cell(row['server_log_problems'])}"
            )
    if result.get("extra_markdown"):
        md += ["", result["extra_markdown"]]
    if scenario == "profile":
        md += ["", result["profile_markdown"], f"Raw profiles: `{result['profile_raw']}`"]
    md += [
        "",
        "CPU columns are % of one core during the measured window: the server (all threads "
        "of all its processes), "
        "the load generator, every PostgreSQL and Redis process, and `other` = whatever else ran "
        "on the machine (it competes for the same 2 cores; a large value means a noisy run). "
        "`server us/msg` = server CPU time per answered CALL. `CPU wait %` = Linux PSI "
        "`some` CPU pressure: share of the time some runnable task waited for a core.",
        "",
    ]
    path = RESULTS_DIR / f"{stem}.md"
    path.write_text("\n".join(md))
    return path


def write_suite(
    parts: list[tuple[str, dict, Path]], args, machine: dict, command: str, seconds: float
) -> Path:
    """The `all` summary, `<date>-all[-label].md`, and its copies `latest.md`, `latest.json`
    and `latest.png` (Heartbeat msgs/s and p99 against connections, echo and project)."""
    servers = [server for _, result, _ in parts for server in result["servers"]]
    head = [
        f"# Benchmark suite ({datetime.now(UTC):%Y-%m-%d})",
        "",
        machine_block(machine, servers),
        f"- Command: `{command}` ({seconds:.0f} s in all)",
        "",
    ]
    body = []
    for scenario, result, path in parts:
        body += [
            f"## {scenario}",
            "",
            WHAT[scenario],
            "",
            table(scenario, result["rows"]),
            "",
            f"Details: [{path.name}]({path.name})",
            "",
        ]
    label = f"-{args.label}" if args.label else ""
    out = RESULTS_DIR / f"{datetime.now(UTC):%Y-%m-%d}-all{label}.md"
    out.write_text("\n".join(head + body))
    heartbeat = next((result["rows"] for name, result, _ in parts if name == "heartbeat"), [])
    image = plot.latest_plot(heartbeat, RESULTS_DIR / "latest.png") if heartbeat else None
    embed = [f"![Heartbeat msgs/s and p99 against connections]({image.name})", ""] if image else []
    (RESULTS_DIR / "latest.md").write_text(
        "\n".join(head + [f"Suite file: [{out.name}]({out.name})", ""] + embed + body)
    )
    latest = {
        "date": machine["date"],
        "command": command,
        "seconds": round(seconds),
        "machine": machine,
        "suite": out.name,
        "plot": image.name if image else None,
        "scenarios": {
            scenario: {
                "what": WHAT[scenario],
                "file": path.name,
                "rows": [_clean(r) for r in result["rows"]],
            }
            for scenario, result, path in parts
        },
    }
    (RESULTS_DIR / "latest.json").write_text(json.dumps(latest, indent=2, default=str) + "\n")
    return out

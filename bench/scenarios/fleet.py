"""fleet: many charge points with a charger-like traffic mix, for minutes; nothing lost.

The servers (csms_project.launcher with --processes, SO_REUSEPORT), the
Celery worker with beat as deployed, and several load-generator processes
(bench/loadgen/fleet.py, each on its own 127.0.0.x source addresses: one
address has about 28,000 ephemeral ports towards one server port). The
traffic: bench/loadgen/fleet_plan.py; with --ocpp201-share, that share of the
charge points speaks OCPP 2.0.1, and nothing lost is checked per version.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter

from ..loadgen import latency_summary, raise_nofile
from ..loadgen.fleet_plan import (
    FleetParams,
    expected_rates,
    nothing_lost_by_version,
    source_addresses,
    split,
)
from ..servers import (
    LOADGEN_CORE,
    PROJECT,
    PYTHON,
    WORK_DIR,
    Server,
    prepare_database,
    redis_cleanup,
    run_django_task,
)
from ..sysinfo import _machine_busy_seconds, _proc_cpu_seconds, process_tree
from .common import log, server_record, server_specs, warm_up
from .deployed import deployed, drain, invoicing_columns, invoicing_state

PREFIX = "FLEET-"
PER_LOADGEN = 12_500  # charge points per load-generator process by default
SAMPLE_EVERY = 10.0


def fleet_params(args) -> FleetParams:
    return FleetParams(
        heartbeat_s=args.heartbeat_interval,
        meter_s=args.meter_interval,
        charging_share=args.charging_share,
        session_s=args.session_length,
        status_gap_s=args.status_gap,
        start_spread_s=args.start_spread,
        ocpp201_share=args.ocpp201_share,
    )


class GroupCpu:
    """CPU seconds of groups of processes (server, worker, PostgreSQL, Redis, load
    generators) and of the whole machine, between start() and stop(), as % of a core."""

    def __init__(self, groups: dict):
        self.groups = groups  # name -> function returning pids
        self.begin: dict = {}
        self.result: dict = {}

    def _sample(self) -> dict:
        sample = {"_wall": time.perf_counter(), "_busy": _machine_busy_seconds()}
        for name, pids in self.groups.items():
            sample[name] = {pid: _proc_cpu_seconds(pid) for pid in pids()}
        return sample

    def start(self) -> None:
        self.begin = self._sample()

    def stop(self) -> dict:
        end = self._sample()
        wall = end["_wall"] - self.begin["_wall"]
        result, known = {}, 0.0
        for name in self.groups:
            seconds = sum(s - self.begin[name].get(pid, 0.0) for pid, s in end[name].items())
            known += seconds
            result[f"{name}_cpu_pct"] = round(100 * seconds / wall, 1)
        busy = end["_busy"] - self.begin["_busy"]
        result["other_cpu_pct"] = round(100 * max(0.0, busy - known) / wall, 1)
        result["machine_busy_pct"] = round(100 * busy / wall, 1)
        self.result = result
        return result


def pids_named(name: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == name:
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


def open_file_limit(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/limits") as f:
            for line in f:
                if line.startswith("Max open files"):
                    return int(line.split()[3])
    except (OSError, ValueError, IndexError):
        pass
    return None


def merge_reports(parts: list[dict], horizon: float) -> dict:
    """The load generators' reports as one: counts summed, percentiles over every value."""
    latencies: dict[str, list[float]] = {}
    errors, call_errors, lost, answered = Counter(), Counter(), Counter(), Counter()
    sent: dict[str, dict] = {}
    for part in parts:
        for action, values in part["latencies_ms"].items():
            latencies.setdefault(action, []).extend(values)
        errors.update(part["errors"])
        call_errors.update(part["call_errors"])
        lost.update(part["lost"])
        answered.update(part["answered"])
        for version, counts in part["sent"].items():
            total = sent.setdefault(
                version, {"transaction_ids": [], "meter_values_answered": 0, "stops_answered": 0}
            )
            total["transaction_ids"] += counts["transaction_ids"]
            total["meter_values_answered"] += counts["meter_values_answered"]
            total["stops_answered"] += counts["stops_answered"]
    by_action = {
        action: {"msgs_per_s": round(len(values) / horizon, 2), **latency_summary(values)}
        for action, values in sorted(latencies.items())
    }
    everything = [v for values in latencies.values() for v in values]
    reconnects = lost.pop("reconnected", 0)
    return {
        "by_action": by_action,
        "latency": latency_summary(everything),
        "msgs": len(everything),
        "msgs_per_s": round(len(everything) / horizon, 1),
        "errors": dict(errors),
        "call_errors": dict(call_errors),
        "lost": dict(lost),
        "reconnects": reconnects,
        "answered_total": dict(answered),
        "sent": sent,
        "connected": sum(part["connected"] for part in parts),
        "open_at_end": sum(part["open_at_end"] for part in parts),
        "ramp_s": max(part["ramp_s"] for part in parts),
        "loadgen_cpu_s": [part["cpu_s"] for part in parts],
        "loadgen_nofile": [part["nofile"] for part in parts],
        "boot_problems": dict(sum((Counter(p["boot_problems"]) for p in parts), Counter())),
    }


class Fleet:
    """The load-generator processes of one run, started, synchronised and read."""

    def __init__(self, server: Server, n: int, args, tag: str):
        self.server, self.n, self.args = server, n, args
        processes = args.loadgen_processes or max(1, -(-n // PER_LOADGEN))
        self.slices = split(n, processes)
        self.addresses = source_addresses(self.slices)
        self.out_dir = WORK_DIR / f"fleet-{tag}"
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.procs: list[asyncio.subprocess.Process] = []
        self.connected: dict[int, int] = {}
        self.latest: dict[int, dict] = {}
        self.readers: list[asyncio.Task] = []

    def pids(self) -> list[int]:
        return [p for proc in self.procs for p in process_tree(proc.pid)]

    def command(self, j: int) -> list[str]:
        first, count = self.slices[j]
        a = self.args
        return [
            "taskset",
            "-c",
            str(LOADGEN_CORE),
            PYTHON,
            "-m",
            "bench.loadgen.fleet",
            "--url",
            self.server.url,
            "--first",
            str(first),
            "--count",
            str(count),
            "--bind",
            ",".join(self.addresses[j]),
            "--prefix",
            PREFIX,
            "--horizon",
            str(a.duration),
            "--heartbeat",
            str(a.heartbeat_interval),
            "--meter-interval",
            str(a.meter_interval),
            "--charging-share",
            str(a.charging_share),
            "--session",
            str(a.session_length),
            "--status-gap",
            str(a.status_gap),
            "--start-spread",
            str(a.start_spread),
            "--ocpp201-share",
            str(a.ocpp201_share),
            "--connect-concurrency",
            str(max(1, a.connect_concurrency // len(self.slices))),
            "--json",
            str(self.out_dir / f"part{j}.json"),
        ]

    async def _read(self, j: int, proc) -> None:
        async for raw in proc.stdout:
            line = raw.decode().strip()
            if line.startswith("CONNECTED "):
                self.connected[j] = int(line.split()[1])
            elif line.startswith("P "):
                self.latest[j] = json.loads(line[2:])

    async def start(self) -> None:
        for j in range(len(self.slices)):
            proc = await asyncio.create_subprocess_exec(
                *self.command(j),
                cwd=PROJECT,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=open(self.out_dir / f"part{j}.log", "w"),  # noqa: SIM115
                preexec_fn=raise_nofile,
            )
            self.procs.append(proc)
            self.readers.append(asyncio.create_task(self._read(j, proc)))

    async def wait_connected(self) -> int:
        while len(self.connected) < len(self.procs):
            for proc in self.procs:
                if proc.returncode is not None:
                    raise RuntimeError(f"a load generator exited early; see {self.out_dir}")
            await asyncio.sleep(0.5)
        return sum(self.connected.values())

    async def go(self, epoch: float) -> None:
        for proc in self.procs:
            proc.stdin.write(f"GO {epoch}\n".encode())
            await proc.stdin.drain()

    def open_now(self) -> int:
        return sum(sample.get("open", 0) for sample in self.latest.values())

    def answered_now(self) -> int:
        return sum(sum(s.get("answered", {}).values()) for s in self.latest.values())

    async def finish(self, timeout: float) -> list[dict]:
        try:
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in self.procs)), timeout)
        finally:
            for proc in self.procs:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
            for reader in self.readers:
                reader.cancel()
        return [
            json.loads((self.out_dir / f"part{j}.json").read_text()) for j in range(len(self.procs))
        ]


async def drive(server: Server, worker, n: int, args, tag: str) -> dict:
    """Ramp up, idle RSS, the traffic for --duration s with a timeline, loaded RSS."""
    fleet = Fleet(server, n, args, tag)
    timeline: list[dict] = []
    rss_start = server.rss_kib()
    started = time.time()
    await fleet.start()
    log(
        f"  {len(fleet.slices)} load generators, source addresses "
        + "; ".join(",".join(a) for a in fleet.addresses)
    )
    connected = await fleet.wait_connected()
    ramp_s = round(time.time() - started, 1)
    log(f"  {connected} connected and Available in {ramp_s} s; idle {args.settle:g} s")
    idle_cpu = GroupCpu({"server": server.pids})
    idle_cpu.start()
    await asyncio.sleep(args.settle)
    rss_idle = server.rss_kib()
    idle = idle_cpu.stop()
    groups = {
        "server": server.pids,
        "worker": worker.pids if worker else list,
        "postgres": lambda: pids_named("postgres"),
        "redis": lambda: pids_named("redis-server"),
        "loadgen": fleet.pids,
    }
    cpu = GroupCpu(groups)
    go_epoch = time.time() + 1.0
    await fleet.go(go_epoch)
    await asyncio.sleep(max(0.0, go_epoch - time.time()))
    cpu.start()
    load_start = os.getloadavg()
    end = go_epoch + args.duration
    rss_loaded = None
    while time.time() < end:
        await asyncio.sleep(min(SAMPLE_EVERY, max(0.0, end - time.time() - 0.5)))
        rss = server.rss_kib()
        timeline.append(
            {
                "t_s": round(time.time() - go_epoch, 1),
                "connected": fleet.open_now(),
                "answered_total": fleet.answered_now(),
                "server_rss_kib": rss,
            }
        )
        rss_loaded = rss
        if end - time.time() < 1.0:
            break
    cpu.stop()
    load_end = os.getloadavg()
    parts = await fleet.finish(timeout=90.0)
    merged = merge_reports(parts, args.duration)
    return {
        **merged,
        "loadgen_processes": len(fleet.slices),
        "source_addresses": fleet.addresses,
        "ramp_wall_s": ramp_s,
        "rss_start_kib": rss_start,
        "rss_idle_kib": rss_idle,
        "rss_loaded_kib": rss_loaded,
        "idle_cpu": idle,
        "cpu": cpu.result,
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in load_end],
        "timeline": timeline,
        "server_nofile": sorted({open_file_limit(p) for p in server.pids()} - {None}),
        "out_dir": str(fleet.out_dir),
    }


def stored(env: dict, sent: dict, out_dir: str) -> dict:
    """What the database holds, per OCPP version (1.6 transactionIds are numbers,
    2.0.1 ones the stations' uuids: the task tells them apart)."""
    path = os.path.join(out_dir, "transaction_ids.txt")
    with open(path, "w") as f:
        f.write("\n".join(str(i) for counts in sent.values() for i in counts["transaction_ids"]))
    done = run_django_task(env, "fleet-stored", "--prefix", PREFIX, "--ids-file", path)
    try:
        return json.loads(done.stdout)
    except ValueError:
        return {"error": (done.stderr or done.stdout)[-500:]}


def check_open_files(n: int, server_processes: int, loadgen_processes: int) -> None:
    """Refuse a run whose processes cannot hold their sockets: each server and load
    generator process gets at most the hard open-file limit (raise_nofile raises the
    soft one to it; only a privileged parent can raise the hard one)."""
    limit = raise_nofile()
    # SO_REUSEPORT spreads by a hash: allow a tenth more than an even share, and the
    # server's own files (database, Redis, logs).
    per_server = int(n / server_processes * 1.1) + 200
    per_loadgen = -(-n // loadgen_processes) + 100
    if max(per_server, per_loadgen) > limit:
        raise SystemExit(
            f"fleet: {n} connections need about {per_server} open files per server process "
            f"(--processes {server_processes}) and {per_loadgen} per load generator "
            f"(--loadgen-processes {loadgen_processes}); the open-file limit here is {limit}. "
            "Use more processes, or raise the hard limit (ulimit -Hn) before the run."
        )


def scenario_fleet(args) -> dict:
    """N charge points with the traffic mix of fleet_plan.py for --duration s."""
    params = fleet_params(args)
    rows, servers = [], []
    for spec in server_specs(args, ["pg"]):
        env = spec.environment()
        for n in args.connections:
            loadgens = args.loadgen_processes or max(1, -(-n // PER_LOADGEN))
            check_open_files(n, spec.processes, loadgens)
            prepare_database(spec.config, env, tags=n)
            tag = f"{spec.processes}p-{n}"
            with (
                deployed(spec, args, f"fleet{n}") as worker,
                Server(spec, log_name=f"fleet{n}") as server,
            ):
                log(f"fleet {spec.label} {n} charge points (pid {server.pid})")
                warm_up(server, args)
                time.sleep(2.0)
                before = invoicing_state(env)
                problems_before = server.log_problems()
                result = asyncio.run(drive(server, worker, n, args, tag))
                at_end = invoicing_state(env)
                drained, drain_s = drain(env) if worker else (None, None)
                after = server.log_problems()
                problems = {k: after[k] - problems_before.get(k, 0) for k in after}
                servers.append({**server_record(spec, server), "log_problems": problems})
            found = stored(env, result["sent"], result["out_dir"])
            check = (
                nothing_lost_by_version(result["sent"], found, samples=3)
                if "error" not in found
                else {"error": found["error"]}
            )
            rows.append(_row(spec, n, params, result, check, found, problems))
            rows[-1].update(invoicing_columns(before, at_end, drained, drain_s, None))
            rows[-1]["worker"] = worker is not None
            rows[-1]["worker_cpu_pct"] = result["cpu"].get("worker_cpu_pct") if worker else None
            log(_summary(rows[-1]))
    redis_cleanup()
    markdown = "\n\n".join(fleet_markdown(row) for row in rows)
    return {"rows": rows, "servers": servers, "extra_markdown": markdown}


def _row(spec, n, params, result, check, found, problems) -> dict:
    connected = result["connected"] or 1
    rss_start, rss_idle, rss_loaded = (
        result["rss_start_kib"],
        result["rss_idle_kib"],
        result["rss_loaded_kib"],
    )
    cpu = result["cpu"]
    return {
        "server": spec.label,
        "processes": spec.processes,
        "connections": n,
        "connected": result["connected"],
        "ramp_s": result["ramp_wall_s"],
        "open_at_end": result["open_at_end"],
        "lost": sum(result["lost"].values()),
        "reconnects": result["reconnects"],
        "msgs_per_s": result["msgs_per_s"],
        "p50_ms": result["latency"].get("p50_ms"),
        "p99_ms": result["latency"].get("p99_ms"),
        "errors": sum(result["errors"].values()),
        "call_errors": sum(result["call_errors"].values()),
        "kib_per_connection_idle": round((rss_idle - rss_start) / connected, 1),
        "kib_per_connection_loaded": round((rss_loaded - rss_start) / connected, 1)
        if rss_loaded
        else None,
        "server_cpu_pct": cpu.get("server_cpu_pct"),
        "postgres_cpu_pct": cpu.get("postgres_cpu_pct"),
        "redis_cpu_pct": cpu.get("redis_cpu_pct"),
        "loadgen_cpu_pct": cpu.get("loadgen_cpu_pct"),
        "other_cpu_pct": cpu.get("other_cpu_pct"),
        "nothing_lost": check.get("nothing_lost"),
        "load_average": result["load_average_start"][0],
        "params": params.__dict__,
        "expected_msgs_per_s": expected_rates(n, params),
        "by_action": result["by_action"],
        "check": check,
        "stored": found,
        "server_log_problems": problems,
        "report": result,
    }


def _summary(row: dict) -> str:
    return (
        f"  {row['connected']} connected, {row['msgs_per_s']} msgs/s, p99 {row['p99_ms']} ms, "
        f"{row['lost']} lost, {row['errors']} errors, {row['call_errors']} CALLERRORs, "
        f"{row['kib_per_connection_idle']} KiB/conn idle, nothing lost: {row['nothing_lost']}"
    )


def _check_lines(check: dict) -> list[str]:
    """The nothing-lost check, a line per OCPP version."""
    if "error" in check:
        return [f"Nothing lost: not checked ({check['error']})."]
    lines = [
        "Nothing lost (load generators' answered CALLs against the bench database): "
        f"{check['nothing_lost']}."
    ]
    for version, figures in check.items():
        if isinstance(figures, dict):
            lines.append(f"- OCPP {version}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    return lines


def fleet_markdown(row: dict) -> str:
    """The run's details: per action, nothing-lost checks, memory, CPU, the timeline."""
    report = row["report"]
    lines = [
        f"### {row['server']}, {row['connections']:,} charge points",
        "",
        f"Traffic: {row['params']}; expected steady-state msgs/s: {row['expected_msgs_per_s']}. "
        f"Load average (1, 5, 15 min) at the start {report['load_average_start']}, at the end "
        f"{report['load_average_end']}. {report['loadgen_processes']} load generators "
        f"(source addresses {report['source_addresses']}, open-file limit "
        f"{report['loadgen_nofile']}); server open-file limit {report['server_nofile']}.",
        "",
        "| action | msgs/s | n | p50 ms | p99 ms | max ms |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for action, figures in row["by_action"].items():
        lines.append(
            f"| {action} | {figures['msgs_per_s']} | {figures['n']:,} | {figures.get('p50_ms')} "
            f"| {figures.get('p99_ms')} | {figures.get('max_ms')} |"
        )
    lines += [
        "",
        *_check_lines(row["check"]),
        "",
        f"Server RSS: {report['rss_start_kib']:,} KiB before, {report['rss_idle_kib']:,} KiB "
        f"with every charge point connected and idle, {report['rss_loaded_kib'] or 0:,} KiB at "
        f"the end of the traffic; idle server CPU {report['idle_cpu'].get('server_cpu_pct')}%.",
        f"CPU during the traffic (% of one core): {report['cpu']}.",
        f"Errors: {report['errors'] or '-'}; CALLERRORs: {report['call_errors'] or '-'}; "
        f"lost by reason: {report['lost'] or '-'}; server log: {row['server_log_problems']}.",
        f"Invoicing: {row.get('sessions_ended')} sessions ended in the run, "
        f"{row.get('invoices_at_end')} invoiced by its end, {row.get('outbox_pending_at_end')} "
        f"pending (oldest {row.get('outbox_oldest_pending_s')} s), "
        f"{row.get('sessions_disputed')} disputed (not billed), all invoiced "
        f"{row.get('drain_s')} s later; worker CPU {row.get('worker_cpu_pct')}%.",
        "",
        "Timeline (every ~10 s): t s, connected, answered CALLs so far, server RSS KiB:",
        "",
        " ".join(
            f"{p['t_s']:g}/{p['connected']}/{p['answered_total']}/{p['server_rss_kib']}"
            for p in report["timeline"]
        ),
    ]
    return "\n".join(lines)

"""soak: many charge points connected and heartbeating for minutes; what is lost."""

from __future__ import annotations

import asyncio
import time

from .. import loadgen
from ..servers import Server, prepare_database, redis_cleanup
from ..sysinfo import CpuMeter
from .common import (
    log,
    ocpp_versions,
    online_in_db,
    server_record,
    server_specs,
    traffic_options,
    version_prefix,
    warm_up,
)
from .deployed import deployed, worker_meter


def scenario_soak(args) -> dict:
    """N charge points ramped up (connect_concurrency at a time), each sending a
    Heartbeat every --interval s on its own schedule for --duration s.

    Server RSS (summed over its processes) before connecting, after the ramp
    (+ --settle s) and at the end of the hold; connections lost in the hold
    (closed by the server, or dropped), reconnects, msgs/s, p99 from the
    schedule, CALLERRORs, and how many the database shows online at the end.
    """
    rows, servers = [], []
    for spec in server_specs(args):
        env = spec.environment()
        prepare_database(spec.config, env, tags=0)
        for n in args.connections:
            # As deployed: the worker with beat runs the sweeps (heartbeat timeouts...).
            with (
                deployed(spec, args, f"soak{n}") as worker,
                Server(spec, log_name=f"soak{n}") as server,
            ):
                log(f"soak {spec.label} {n} connections (pid {server.pid})")
                warm_up(server, args)
                time.sleep(2.0)
                seen: dict = {"start": server.rss_kib()}
                problems_before = server.log_problems()
                meter = CpuMeter(server.pids)
                wmeter = worker_meter(worker)

                async def hook(
                    event: str,
                    info: dict,
                    server=server,
                    meter=meter,
                    wmeter=wmeter,
                    seen=seen,
                    env=env,
                    n=n,
                ):
                    if event == "connected":
                        log(f"  {info['connected']} connected; holding {args.duration:g} s")
                        await asyncio.sleep(args.settle)
                        seen["after_connect"] = server.rss_kib()
                    elif event == "window_start":
                        meter.start()
                        if wmeter:
                            wmeter.start()
                    elif event == "hold_end":
                        meter.stop()
                        if wmeter:
                            wmeter.stop()
                        seen["end"] = server.rss_kib()
                        if server.spec.config != "echo":
                            prefix = version_prefix("SOAK-", ocpp_versions(args)[0])
                            seen["db"] = await online_in_db(env, prefix, n)

                opts = traffic_options(server, n, "SOAK-", args)
                report = asyncio.run(
                    loadgen.run_soak(opts, args.duration, args.interval, hook, quiet=args.quiet)
                )
                after = server.log_problems()
                problems = {k: after[k] - problems_before.get(k, 0) for k in after}
            connected = report["connect"]["connected"] or 1
            start, after_connect = seen["start"], seen.get("after_connect")
            rows.append(
                {
                    "server": spec.label,
                    "database": spec.describe()["database"],
                    "processes": spec.processes,
                    "connections": n,
                    "connected": report["connect"]["connected"],
                    "ramp_s": report["connect"]["seconds"],
                    "peak_open": report["peak_open"],
                    "open_at_end": report["open_at_end"],
                    "lost": report["connections_lost"],
                    "lost_by_reason": report["lost_during_hold"],
                    "lost_during_ramp": sum(report["lost_during_ramp"].values()),
                    "reconnects": report["reconnects"],
                    "online_in_db": seen.get("db", {}).get("online"),
                    "rss_start_kib": start,
                    "rss_connected_kib": after_connect,
                    "rss_end_kib": seen.get("end"),
                    "kib_per_connection": round((after_connect - start) / connected, 1)
                    if after_connect
                    else None,
                    "interval_s": args.interval,
                    "target_rate": report["target_msgs_per_s"],
                    "msgs_per_s": report["msgs_per_s"],
                    "p50_ms": report["latency"].get("p50_ms"),
                    "p99_ms": report["latency"].get("p99_ms"),
                    "max_ms": report["latency"].get("max_ms"),
                    "call_errors": sum(report["call_errors"].values()),
                    "errors": sum(report["errors"].values()),
                    "server_cpu_pct": meter.result.get("server_cpu_pct"),
                    "other_cpu_pct": meter.result.get("other_cpu_pct"),
                    "worker": wmeter is not None,
                    "worker_cpu_pct": wmeter.result.get("server_cpu_pct") if wmeter else None,
                    "worker_log_problems": worker.log_problems() if worker else None,
                    "loadgen_loop_lag_p99_ms": report["loadgen_loop_lag"].get("p99_ms"),
                    "server_log_problems": problems,
                    "report": report,
                }
            )
            log(
                f"  peak {report['peak_open']} open, {report['connections_lost']} lost, "
                f"{report['reconnects']} reconnects, {report['msgs_per_s']} msgs/s, "
                f"p99 {report['latency'].get('p99_ms')} ms, "
                f"{rows[-1]['kib_per_connection']} KiB/connection"
            )
            servers.append({**server_record(spec, server), "log_problems": problems})
    redis_cleanup()
    return {"rows": rows, "servers": servers}

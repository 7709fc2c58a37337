"""idle and storm: what connections cost the server, and how it takes them back at once."""

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


def scenario_idle(args) -> dict:
    rows, servers = [], []
    for spec in server_specs(args):
        prepare_database(spec.config, spec.environment(), tags=0)
        for n in args.connections:
            # A fresh server per size: the baseline must not carry an earlier run's heap.
            with Server(spec, log_name=f"idle{n}") as server:
                log(f"idle {spec.label} {n} connections (pid {server.pid})")
                warm_up(server, args)
                time.sleep(2.0)
                before = server.rss_kib()
                meter = CpuMeter(server.pids)
                seen: dict = {}

                async def hook(event: str, info: dict, server=server, meter=meter, seen=seen):
                    if event == "connected":
                        await asyncio.sleep(args.settle)
                        seen["after"] = server.rss_kib()
                        meter.start()
                    elif event == "hold_end":
                        meter.stop()
                        seen["end"] = server.rss_kib()

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
            servers.append({**server_record(spec, server), "log_problems": problems})
    return {"rows": rows, "servers": servers}


def scenario_storm(args) -> dict:
    rows, servers = [], []
    for spec in server_specs(args):
        config = spec.config
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
                        prefix = version_prefix("STORM-", ocpp_versions(args)[0])
                        checks.update(await online_in_db(env, prefix, n))

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
            servers.append(server_record(spec, server))
    redis_cleanup()
    return {"rows": rows, "servers": servers}

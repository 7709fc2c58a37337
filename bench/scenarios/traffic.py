"""heartbeat, durable and halfpeak: the message rate and latency of a busy server."""

from __future__ import annotations

from ..servers import Server, prepare_database, redis_cleanup
from .common import (
    add_ratios,
    log,
    measure_traffic,
    median_report,
    ocpp_versions,
    server_record,
    server_specs,
    traffic_row,
    warm_up,
)
from .deployed import deployed, drain, invoicing_columns, invoicing_state, worker_meter


def _progress_line(report: dict) -> str:
    line = (
        f"  {report['msgs_per_s']} msgs/s, p99 {report['latency'].get('p99_ms')} ms, "
        f"server {report['cpu'].get('server_cpu_pct')}% CPU"
    )
    if report.get("target_msgs_per_s"):
        line += (
            f" (target {report['target_msgs_per_s']} msgs/s, {report.get('unanswered')} unanswered)"
        )
    return line


def scenario_traffic(args, mode: str) -> dict:
    """heartbeat / durable: one CALL in flight per connection, back to back; with
    --rate (heartbeat), Heartbeats at that fixed total rate instead. Each OCPP
    version of --ocpp-version is measured on the same server (rows per version,
    each compared with the echo server speaking that version)."""
    rows, servers = [], []
    prefix = "HB-" if mode == "heartbeat" else "TX-"
    rate = args.rate if mode == "heartbeat" else None
    for spec in server_specs(args):
        env = spec.environment()
        prepared = prepare_database(spec.config, env, tags=max(args.connections))
        # durable writes sessions: run as deployed, with the worker invoicing them.
        worker_context = deployed(spec, args, mode, enabled=mode == "durable")
        with worker_context as worker, Server(spec, log_name=mode) as server:
            log(f"{spec.label} up on {server.port} (pid {server.pid}): {' '.join(server.cmd)}")
            warm_up(server, args)
            for version in ocpp_versions(args):
                for n in args.connections:
                    reports = []
                    for attempt in range(args.repeat):
                        log(
                            f"{mode} {spec.label} OCPP {version} {n} connections "
                            f"(run {attempt + 1}/{args.repeat})"
                        )
                        invoices = mode == "durable" and spec.config != "echo"
                        before = invoicing_state(env) if invoices else None
                        meter = worker_meter(worker)
                        reports.append(
                            measure_traffic(
                                server,
                                mode,
                                n,
                                prefix,
                                args,
                                rate,
                                version,
                                meters=(meter,) if meter else (),
                            )
                        )
                        log(_progress_line(reports[-1]))
                        if invoices:
                            reports[-1]["invoicing"] = _invoicing(
                                env, before, meter, worker is not None
                            )
                    row = traffic_row(spec, server, n, median_report(reports), version)
                    row.update(row["report"].get("invoicing", {}))
                    rows.append(row)
            servers.append(server_record(spec, server, commit_probe=prepared.get("commit_probe")))
    if mode == "durable":
        redis_cleanup()
    add_ratios(rows)
    return {"rows": rows, "servers": servers}


def _invoicing(env: dict, before: dict, meter, worker: bool) -> dict:
    """Invoices issued during the run, the backlog at its end, and (with the worker)
    how long the rest took to clear."""
    at_end = invoicing_state(env)
    drained, drain_s = drain(env) if worker else (None, None)
    columns = invoicing_columns(before, at_end, drained, drain_s, meter)
    log(
        f"  {columns.get('sessions_ended')} sessions ended, {columns.get('invoices_at_end')} "
        f"invoiced by the end ({columns.get('outbox_pending_at_end')} pending, oldest "
        f"{columns.get('outbox_oldest_pending_s')} s), all invoiced after {drain_s} s more; "
        f"worker {columns.get('worker_cpu_pct')}% CPU"
    )
    return columns


def scenario_halfpeak(args) -> dict:
    """The peak Heartbeat rate (closed loop), then the latency at half of it (fixed rate).

    Per server and connection count: a closed-loop run measures the peak
    msgs/s; a fixed-rate run at half that total rate, on the same server and
    the same number of connections, measures p50/p95/p99 from the scheduled
    send times. The issue's target is p99 < 50 ms at 1,000 charge points.
    """
    rows, servers = [], []
    for spec in server_specs(args):
        prepared = prepare_database(spec.config, spec.environment(), tags=0)
        with Server(spec, log_name="halfpeak") as server:
            log(f"{spec.label} up on {server.port} (pid {server.pid}): {' '.join(server.cmd)}")
            warm_up(server, args)
            for version in ocpp_versions(args):
                for n in args.connections:
                    row = _halfpeak_row(spec, server, n, args, version)
                    if row is not None:
                        rows.append(row)
            servers.append(server_record(spec, server, commit_probe=prepared.get("commit_probe")))
    return {"rows": rows, "servers": servers}


def _halfpeak_row(spec, server, n: int, args, version: str) -> dict | None:
    """The peak, then the fixed-rate run at half of it, for one server, count and version."""
    label = f"halfpeak {spec.label} OCPP {version} {n}"
    peaks = []
    for attempt in range(args.repeat):
        log(f"{label}: peak (run {attempt + 1}/{args.repeat})")
        peaks.append(measure_traffic(server, "heartbeat", n, "HB-", args, ocpp_version=version))
        log(_progress_line(peaks[-1]))
    peak = median_report(peaks)
    half = round((peak["msgs_per_s"] or 0) / 2, 1)
    if not half:
        log("  no peak measured: no fixed-rate run")
        return None
    log(f"{label}: {half} msgs/s fixed rate")
    paced = measure_traffic(server, "heartbeat", n, "HB-", args, rate=half, ocpp_version=version)
    log(_progress_line(paced))
    row = traffic_row(spec, server, n, paced, version)
    row.update(
        peak_msgs_per_s=peak["msgs_per_s"],
        peak_p99_ms=peak["latency"].get("p99_ms"),
        peak_report=peak,
        loadgen_loop_lag_p99_ms=paced.get("loadgen_loop_lag", {}).get("p99_ms"),
    )
    return row

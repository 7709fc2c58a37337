"""The final report: a dict (written as JSON with --json) and its text table.

The dict is the contract (docs/SIMULATE.md describes every field); the text
is made from the dict alone, so both always say the same.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime

from .config import SimulationConfig
from .stats import LatencyHistogram, Stats

PERCENTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}
SESSION_KEYS = (
    "started",
    "completed",
    "refused",
    "no_free_id_tag",
    "failed",
    "stop_failed",
    "remote_started",
    "remote_stopped",
)
LATENCY_METHOD = (
    "log-bucketed histogram (DDSketch construction): each percentile is within "
    "{error:g}% of the exact nearest-rank percentile of all answers (CALLRESULT or "
    "CALLERROR), from just before the send to the answer's arrival; mean and max are exact"
)


def _latency(histogram: LatencyHistogram) -> dict:
    numbers = {name: histogram.quantile(q) for name, q in PERCENTILES.items()}
    numbers["max"] = histogram.max if histogram.count else None
    numbers["mean"] = histogram.mean
    return {name: None if value is None else round(value, 3) for name, value in numbers.items()}


def _sent(stats: Stats, elapsed: float) -> tuple[dict, LatencyHistogram]:
    """The CALLs sent by action, and the latency histogram of all of them."""
    sent = {}
    everything = LatencyHistogram()
    for action in sorted(stats.actions):
        numbers = stats.actions[action]
        everything.merge(numbers.latency)
        sent[action] = {
            "sent": numbers.sent,
            "answered": numbers.answered,
            "msgs_per_s": round(numbers.sent / elapsed, 2),
            "latency_ms": _latency(numbers.latency),
            "call_errors": dict(sorted(numbers.call_errors.items())),
            "timeouts": numbers.timeouts,
            "connection_lost": numbers.lost,
        }
    return sent, everything


def _part(stats: Stats, elapsed: float) -> dict:
    """What the fleet, or one OCPP version's charge points in it, did."""
    sent, everything = _sent(stats, elapsed)
    return {
        "connections": {
            "target": stats.target,
            "connected_at_end": stats.connected_at_end,
            "handshakes_ok": stats.handshakes_ok,
            "failed_handshakes": dict(sorted(stats.handshake_failures.items())),
            "reconnects": stats.reconnects,
            "dropped": stats.dropped,
            "reboots": stats.reboots,
        },
        "boots_not_accepted": dict(sorted(stats.boots_not_accepted.items())),
        "sessions": {key: stats.sessions.get(key, 0) for key in SESSION_KEYS},
        "sessions_refused": dict(sorted(stats.refusals.items())),
        "sent": sent,
        "received": {
            action: dict(sorted(outcomes.items()))
            for action, outcomes in sorted(stats.received.items())
        },
        "totals": {
            "sent": stats.sent_total,
            "answered": stats.answered_total,
            "call_errors": sum(sum(a.call_errors.values()) for a in stats.actions.values()),
            "timeouts": sum(a.timeouts for a in stats.actions.values()),
            "connection_lost": sum(a.lost for a in stats.actions.values()),
            "msgs_per_s": round(stats.sent_total / elapsed, 2),
            "latency_ms": _latency(everything),
            "received": sum(sum(c.values()) for c in stats.received.values()),
            "bad_frames": stats.bad_frames,
            "late_answers": stats.late_answers,
            "errors": stats.errors,
        },
    }


def build_report(*, config: SimulationConfig, stats: Stats, ended_by: str, notes: list) -> dict:
    elapsed = max(stats.elapsed(), 1e-9)
    _, everything = _sent(stats, elapsed)
    return {
        "started_at": datetime.fromtimestamp(stats.started_wall, UTC).isoformat(timespec="seconds"),
        "elapsed_s": round(elapsed, 3),
        "ended_by": ended_by,
        "config": config.public_dict(),
        **_part(stats, elapsed),
        # The same sections for the charge points of each OCPP version (they add up).
        "versions": {
            version: _part(part, elapsed) for version, part in sorted(stats.versions.items())
        },
        "latency_method": LATENCY_METHOD.format(error=everything.relative_error * 100),
        "notes": list(notes),
    }


def _ms(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def _counts(counter: dict) -> str:
    return ", ".join(f"{key} x{value}" for key, value in counter.items()) or "none"


TITLES = {"1.6": "OCPP 1.6J", "2.0.1": "OCPP 2.0.1"}


def _title(report: dict) -> str:
    versions = list(report.get("versions") or [report["config"].get("ocpp_version", "1.6")])
    return " + ".join(TITLES.get(version, version) for version in versions)


def format_report(report: dict) -> str:
    """The report as the text table `manage.py simulate` prints."""
    config, conn, totals = report["config"], report["connections"], report["totals"]
    lines = [
        f"{_title(report)} simulation: {config['charge_points']} charge points x "
        f"{config['connectors']} connectors against {config['url']}",
        f"ran {report['elapsed_s']:.1f} s from {report['started_at']} "
        f"(ended: {report['ended_by']})",
        "",
        "Connections",
        f"  target {conn['target']}, connected at end {conn['connected_at_end']}, "
        f"handshakes ok {conn['handshakes_ok']}, reconnects {conn['reconnects']}, "
        f"dropped {conn['dropped']}, reboots (Reset) {conn['reboots']}",
        f"  failed handshakes: {_counts(conn['failed_handshakes'])}",
        f"  BootNotification not accepted: {_counts(report['boots_not_accepted'])}",
        "Sessions",
        textwrap.fill(
            ", ".join(f"{key.replace('_', ' ')} {n}" for key, n in report["sessions"].items()),
            width=96,
            initial_indent="  ",
            subsequent_indent="  ",
        ),
        f"  refused: {_counts(report['sessions_refused'])}",
        "",
    ]
    lines += _calls_table("CALLs sent", report)
    for action, row in report["sent"].items():
        problems = dict(row["call_errors"])
        if row["timeouts"]:
            problems["timeout"] = row["timeouts"]
        if row["connection_lost"]:
            problems["connection lost"] = row["connection_lost"]
        if problems:
            lines.append(f"  {action} errors: {_counts(problems)}")
    lines += ["", f"{'CALLs from the CSMS':<30}{'received':>8}  answers"]
    for action, outcomes in report["received"].items():
        lines.append(f"  {action:<28}{sum(outcomes.values()):>8}  {_counts(outcomes)}")
    if not report["received"]:
        lines.append("  none")
    if len(report.get("versions") or ()) > 1:
        lines += ["", "Per OCPP version"]
        for version, part in report["versions"].items():
            part_conn, sessions = part["connections"], part["sessions"]
            lines += [
                f"  {TITLES.get(version, version)}: {part_conn['target']} charge points, "
                f"connected at end {part_conn['connected_at_end']}, sessions started "
                f"{sessions['started']}, completed {sessions['completed']}, refused "
                f"{sessions['refused']}, failed {sessions['failed']}; "
                f"{part['totals']['errors']} errors",
                *_calls_table(f"  CALLs sent ({version})", part),
            ]
    lines += [
        "",
        f"Overall: {totals['sent']} CALLs sent, {totals['answered']} answered, "
        f"{totals['msgs_per_s']:.2f} msgs/s; {totals['errors']} errors "
        f"(CALLERRORs {totals['call_errors']}, timeouts {totals['timeouts']}, "
        f"lost {totals['connection_lost']}, failed handshakes "
        f"{sum(conn['failed_handshakes'].values())}, dropped {conn['dropped']}, "
        f"bad frames {totals['bad_frames']})",
        f"Latency: {report['latency_method']}.",
    ]
    lines += [f"Note: {note}" for note in report["notes"]]
    return "\n".join(lines)


def _calls_table(title: str, part: dict) -> list[str]:
    """The CALLs-sent table of the fleet or of one version: a row per action, then all."""
    indent = " " * (len(title) - len(title.lstrip()))
    lines = [
        f"{title:<30}{'sent':>8}{'answered':>10}{'msgs/s':>9}"
        f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}"
    ]
    rows = list(part["sent"].items()) + [("all", _total_row(part["totals"]))]
    for action, row in rows:
        latency = row["latency_ms"]
        errors = sum(row["call_errors"].values()) + row["timeouts"] + row["connection_lost"]
        lines.append(
            f"{indent}  {action:<{28 - len(indent)}}{row['sent']:>8}{row['answered']:>10}"
            f"{row['msgs_per_s']:>9.2f}{_ms(latency['p50']):>9}{_ms(latency['p95']):>9}"
            f"{_ms(latency['p99']):>9}{_ms(latency['max']):>9}{errors:>8}"
        )
    return lines


def _total_row(totals: dict) -> dict:
    return {
        "sent": totals["sent"],
        "answered": totals["answered"],
        "msgs_per_s": totals["msgs_per_s"],
        "latency_ms": totals["latency_ms"],
        "call_errors": {"all": totals["call_errors"]},
        "timeouts": totals["timeouts"],
        "connection_lost": totals["connection_lost"],
    }

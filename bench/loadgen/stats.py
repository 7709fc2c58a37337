"""Counts and latency percentiles of a load-generator run.

Percentiles are nearest-rank over every measured round trip (no histogram
buckets, no sampling): the runs are short enough to keep each value.
"""

from __future__ import annotations

import time
from array import array
from collections import Counter


def percentile(sorted_values, q: float) -> float | None:
    """Nearest-rank percentile of an already sorted sequence."""
    if not sorted_values:
        return None
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


def latency_summary(values) -> dict:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}
    return {
        "n": len(ordered),
        "p50_ms": round(percentile(ordered, 50), 3),
        "p95_ms": round(percentile(ordered, 95), 3),
        "p99_ms": round(percentile(ordered, 99), 3),
        "max_ms": round(ordered[-1], 3),
        "mean_ms": round(sum(ordered) / len(ordered), 3),
    }


class Recorder:
    """Counts and latencies; only what completes inside the window is measured.

    Closed-loop runs open and close the window with start_window() and
    stop_window(). Fixed-rate runs set the window themselves and say per CALL
    whether its scheduled send time fell inside it (`in_window`), so that a
    CALL answered late still counts with its whole delay.
    """

    def __init__(self) -> None:
        self.measuring = False
        self.window_start = self.window_end = None
        self.latencies: dict[str, array] = {}
        self.service = array("d")  # fixed rate: send -> answer, without the wait to send
        self.window_count: Counter = Counter()
        self.total_count: Counter = Counter()
        self.call_errors: Counter = Counter()
        self.errors: Counter = Counter()
        self.server_calls: Counter = Counter()
        self.done = 0

    def record(
        self,
        action: str,
        seconds: float,
        error_code: str | None,
        service: float | None = None,
        in_window: bool | None = None,
    ) -> None:
        self.done += 1
        self.total_count[action] += 1
        if error_code is not None:
            self.call_errors[f"{action}:{error_code}"] += 1
        if self.measuring if in_window is None else in_window:
            self.window_count[action] += 1
            values = self.latencies.get(action)
            if values is None:
                values = self.latencies[action] = array("d")
            values.append(seconds * 1000.0)
            if service is not None:
                self.service.append(service * 1000.0)

    def start_window(self) -> None:
        self.measuring = True
        self.window_start = time.perf_counter()

    def stop_window(self) -> None:
        self.measuring = False
        self.window_end = time.perf_counter()

    def report(self) -> dict:
        seconds = (self.window_end or time.perf_counter()) - (self.window_start or 0)
        everything = array("d")
        by_action = {}
        for action, values in self.latencies.items():
            everything.extend(values)
            by_action[action] = {
                "msgs_per_s": round(len(values) / seconds, 1) if seconds > 0 else None,
                **latency_summary(values),
            }
        total = sum(self.window_count.values())
        report = {
            "window_s": round(seconds, 3),
            "msgs": total,
            "msgs_per_s": round(total / seconds, 1) if seconds > 0 else None,
            "latency": latency_summary(everything),
            "by_action": by_action,
            "call_errors": dict(self.call_errors),
            "errors": dict(self.errors),
            "server_calls": dict(self.server_calls),
        }
        if self.service:
            report["service_latency"] = latency_summary(self.service)
        return report

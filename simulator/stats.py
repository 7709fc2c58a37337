"""Counters and latency distributions of a simulation run.

Everything runs on one event loop, so plain attributes are enough: no locks.
Latencies go into `LatencyHistogram`, whose memory does not grow with the
number of samples (an hour at 5,000 msgs/s would be 18 million of them).
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

# The smallest latency told apart from zero, in milliseconds (1 ns).
_FLOOR_MS = 1e-6


class LatencyHistogram:
    """Samples in log-spaced buckets; any quantile within `relative_error` of the exact one.

    Bucket i holds the values in (gamma**(i-1), gamma**i] with
    gamma = (1 + a) / (1 - a). A quantile is the nearest-rank sample's bucket,
    reported as 2 * gamma**i / (gamma + 1): that number is within a relative
    error a of every value the bucket can hold, so within a of the exact
    nearest-rank percentile of the samples. (The DDSketch construction;
    Masson et al., VLDB 2019.) Count, mean, min and max are exact; a
    quantile is also clipped to [min, max]. With a = 0.5 % the buckets between
    1 µs and 10 minutes number under 3,000, whatever the sample count.
    """

    def __init__(self, relative_error: float = 0.005) -> None:
        if not 0 < relative_error < 1:
            raise ValueError("relative_error must be between 0 and 1")
        self.relative_error = relative_error
        self._gamma = (1 + relative_error) / (1 - relative_error)
        self._log_gamma = math.log(self._gamma)
        self._buckets: defaultdict[int, int] = defaultdict(int)
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = 0.0

    def add(self, value: float) -> None:
        value = max(value, _FLOOR_MS)
        self._buckets[math.ceil(math.log(value) / self._log_gamma)] += 1
        self.count += 1
        self.total += value
        self.min = min(self.min, value)
        self.max = max(self.max, value)

    def merge(self, other: LatencyHistogram) -> None:
        """Add another histogram's samples (same relative error) to this one."""
        if other.relative_error != self.relative_error:
            raise ValueError("cannot merge histograms of different relative errors")
        for index, count in other._buckets.items():
            self._buckets[index] += count
        self.count += other.count
        self.total += other.total
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0 < q <= 1) by nearest rank; None without samples."""
        if not 0 < q <= 1:
            raise ValueError("q must be in (0, 1]")
        if not self.count:
            return None
        # round(): 0.29 * 100 is 28.999999999999996 in binary floating point.
        rank = max(1, math.ceil(round(q * self.count, 9)))
        seen = 0
        for index in sorted(self._buckets):
            seen += self._buckets[index]
            if seen >= rank:
                estimate = 2 * self._gamma**index / (self._gamma + 1)
                return min(max(estimate, self.min), self.max)
        return self.max  # unreachable: the counts add up to self.count

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None


def exact_percentile(sorted_values, q: float) -> float | None:
    """Nearest-rank q-quantile of sorted values: what LatencyHistogram approximates."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(round(q * len(sorted_values), 9)))
    return sorted_values[rank - 1]


@dataclass
class ActionStats:
    """The CALLs of one action that the simulated charge points sent."""

    sent: int = 0
    answered: int = 0
    call_errors: Counter = field(default_factory=Counter)
    timeouts: int = 0
    # The connection closed before the answer came.
    lost: int = 0
    # Round trips of every answer, CALLRESULT or CALLERROR, in milliseconds.
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)

    @property
    def errors(self) -> int:
        return sum(self.call_errors.values()) + self.timeouts + self.lost


class Stats:
    """What happened during a run; read by the progress line, the pacer and the report.

    The fleet has one; each OCPP version in it has a child (`for_version`),
    which counts its own charge points' events and passes each one on to the
    fleet's, so the report can show the versions side by side and in total.
    Count through the methods, not by changing the attributes: only the
    methods reach the fleet's totals.
    """

    def __init__(self, target: int, *, parent: Stats | None = None) -> None:
        self.target = target
        self.parent = parent
        # This object and the fleet's (for a version's child): where each event counts.
        self._chain: tuple[Stats, ...] = (self,) if parent is None else (self, parent)
        self.versions: dict[str, Stats] = {}
        self.started = time.monotonic() if parent is None else parent.started
        self.started_wall = time.time() if parent is None else parent.started_wall
        self.actions: defaultdict[str, ActionStats] = defaultdict(ActionStats)
        # CALLs from the CSMS: action -> how they were answered ("answered" or an error code).
        self.received: defaultdict[str, Counter] = defaultdict(Counter)
        self.connected = 0
        # Sockets open when the run ended (before the sessions were stopped).
        self.connected_at_end = 0
        self.handshakes_ok = 0
        self.handshake_failures: Counter = Counter()
        self.reconnects = 0
        self.dropped = 0
        self.reboots = 0
        # BootNotification answers that were not Accepted, by status.
        self.boots_not_accepted: Counter = Counter()
        self.sessions: Counter = Counter()
        # Sessions refused, by "<action>: <idTagInfo status>".
        self.refusals: Counter = Counter()
        # Frames from the CSMS that were not JSON arrays of a known message type.
        self.bad_frames = 0
        # Answers to CALLs that had already timed out.
        self.late_answers = 0
        self.sent_total = 0
        self.finished_total = 0
        self.answered_total = 0

    def for_version(self, version: str, target: int) -> Stats:
        """The child that counts the charge points speaking `version` (created once)."""
        if version not in self.versions:
            self.versions[version] = Stats(target, parent=self)
        return self.versions[version]

    # --- our CALLs ------------------------------------------------------------

    def call_sent(self, action: str) -> None:
        for stats in self._chain:
            stats.actions[action].sent += 1
            stats.sent_total += 1

    def call_answered(self, action: str, latency_ms: float) -> None:
        for stats in self._chain:
            numbers = stats.actions[action]
            numbers.answered += 1
            numbers.latency.add(latency_ms)
            stats.answered_total += 1
            stats.finished_total += 1

    def call_error(self, action: str, code: str, latency_ms: float) -> None:
        for stats in self._chain:
            numbers = stats.actions[action]
            numbers.call_errors[code] += 1
            numbers.latency.add(latency_ms)
            stats.finished_total += 1

    def call_timed_out(self, action: str) -> None:
        for stats in self._chain:
            stats.actions[action].timeouts += 1
            stats.finished_total += 1

    def call_lost(self, action: str) -> None:
        for stats in self._chain:
            stats.actions[action].lost += 1
            stats.finished_total += 1

    def late_answer(self) -> None:
        for stats in self._chain:
            stats.late_answers += 1

    def bad_frame(self) -> None:
        for stats in self._chain:
            stats.bad_frames += 1

    # --- the CSMS's CALLs and the connections ---------------------------------

    def call_received(self, action: str, outcome: str) -> None:
        for stats in self._chain:
            stats.received[action][outcome] += 1

    def handshake_failed(self, reason: str) -> None:
        for stats in self._chain:
            stats.handshake_failures[reason] += 1

    def handshake_succeeded(self, *, reconnect: bool) -> None:
        for stats in self._chain:
            stats.handshakes_ok += 1
            stats.reconnects += reconnect

    def connection_opened(self) -> None:
        for stats in self._chain:
            stats.connected += 1

    def connection_closed(self) -> None:
        for stats in self._chain:
            stats.connected -= 1

    def connection_dropped(self) -> None:
        for stats in self._chain:
            stats.dropped += 1

    def rebooted(self) -> None:
        for stats in self._chain:
            stats.reboots += 1

    def boot_not_accepted(self, status: str) -> None:
        for stats in self._chain:
            stats.boots_not_accepted[status] += 1

    def mark_end(self) -> None:
        """The run ends: remember how many sockets were open (before the final stop)."""
        for stats in (self, *self.versions.values()):
            stats.connected_at_end = stats.connected

    # --- sessions ---------------------------------------------------------------

    def session(self, outcome: str, count: int = 1) -> None:
        """A session event: started, completed, refused, failed... (report.SESSION_KEYS)."""
        for stats in self._chain:
            stats.sessions[outcome] += count

    def session_refused(self, action: str, status: object) -> None:
        for stats in self._chain:
            stats.sessions["refused"] += 1
            stats.refusals[f"{action}: {status}"] += 1

    @property
    def errors(self) -> int:
        """Everything that went wrong: the progress line's and the report's "errors"."""
        return (
            sum(stats.errors for stats in self.actions.values())
            + sum(self.handshake_failures.values())
            + self.dropped
            + self.bad_frames
        )

    def elapsed(self) -> float:
        return time.monotonic() - self.started

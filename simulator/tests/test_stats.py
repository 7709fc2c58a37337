"""The simulator's latency percentiles, back-off and report arithmetic."""

import math
import random

import pytest

from simulator.config import SimulationConfig
from simulator.connection import backoff_delay
from simulator.report import build_report, format_report
from simulator.stats import LatencyHistogram, Stats, exact_percentile


def test_exact_percentile_is_the_nearest_rank():
    values = list(range(1, 101))  # 1..100
    assert exact_percentile(values, 0.50) == 50
    assert exact_percentile(values, 0.95) == 95
    assert exact_percentile(values, 0.99) == 99
    assert exact_percentile(values, 1.0) == 100
    assert exact_percentile([7.0], 0.5) == 7.0
    assert exact_percentile([1, 2, 3], 0.01) == 1
    assert exact_percentile([], 0.5) is None
    # 0.29 * 100 is 28.999999999999996 in floating point: still rank 29.
    assert exact_percentile(values, 0.29) == 29


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("q", [0.5, 0.9, 0.95, 0.99, 0.999, 1.0])
def test_histogram_quantiles_stay_within_the_relative_error(seed, q):
    rng = random.Random(seed)
    # Latency-like: mostly a few ms, a long tail, a few sub-millisecond answers.
    samples = [rng.lognormvariate(1.0, 1.2) for _ in range(20_000)]
    samples += [rng.uniform(0.01, 0.2) for _ in range(500)]
    histogram = LatencyHistogram()
    for value in samples:
        histogram.add(value)
    exact = exact_percentile(sorted(samples), q)
    estimate = histogram.quantile(q)
    assert abs(estimate - exact) <= histogram.relative_error * exact + 1e-12


def test_histogram_exact_figures_and_edges():
    histogram = LatencyHistogram()
    assert histogram.quantile(0.5) is None and histogram.mean is None
    for value in (1.0, 2.0, 3.0, 4.0, 250.0):
        histogram.add(value)
    assert histogram.count == 5
    assert histogram.max == 250.0 and histogram.min == 1.0
    assert histogram.mean == pytest.approx(52.0)
    assert histogram.quantile(1.0) == 250.0  # clipped to the exact max
    assert histogram.quantile(0.5) == pytest.approx(3.0, rel=0.005)
    assert histogram.quantile(0.2) == pytest.approx(1.0, rel=0.005)
    single = LatencyHistogram()
    single.add(12.345)
    assert single.quantile(0.5) == single.quantile(0.99) == 12.345
    zero = LatencyHistogram()
    zero.add(0.0)  # a clock too coarse to see the round trip
    assert 0 < zero.quantile(0.5) <= 1e-6
    with pytest.raises(ValueError):
        histogram.quantile(0)


def test_histogram_memory_does_not_grow_with_samples():
    histogram = LatencyHistogram()
    rng = random.Random(1)
    for _ in range(100_000):
        histogram.add(rng.uniform(1, 100))
    # log(100) / log(1.01...) buckets cover 1-100 ms at 0.5 %.
    assert len(histogram._buckets) <= math.ceil(math.log(100) / histogram._log_gamma) + 1


def test_merged_histograms_give_the_quantiles_of_all_samples():
    rng = random.Random(3)
    a, b, both = LatencyHistogram(), LatencyHistogram(), []
    for index in range(4000):
        value = rng.expovariate(0.1) + 0.05
        (a if index % 3 else b).add(value)
        both.append(value)
    a.merge(b)
    assert a.count == 4000
    for q in (0.5, 0.99):
        exact = exact_percentile(sorted(both), q)
        assert abs(a.quantile(q) - exact) <= a.relative_error * exact
    with pytest.raises(ValueError):
        a.merge(LatencyHistogram(relative_error=0.01))


def test_backoff_is_full_jitter_below_the_capped_exponential():
    rng = random.Random(7)
    for attempt in range(12):
        ceiling = min(60.0, 1.0 * 2**attempt)
        delays = [backoff_delay(rng, attempt, base=1.0, cap=60.0) for _ in range(300)]
        assert all(0 <= delay <= ceiling for delay in delays)
        # Full jitter: the whole window is used, not just its top.
        assert min(delays) < ceiling * 0.1 and max(delays) > ceiling * 0.9
    assert backoff_delay(rng, 10_000, base=1.0, cap=5.0) <= 5.0  # no overflow


def test_report_counts_and_rates():
    stats = Stats(target=2)
    stats.started -= 10  # ten seconds ago
    for latency in (1.0, 2.0, 3.0, 4.0):
        stats.call_sent("Heartbeat")
        stats.call_answered("Heartbeat", latency)
    stats.call_sent("StartTransaction")
    stats.call_error("StartTransaction", "SecurityError", 5.0)
    stats.call_sent("StopTransaction")
    stats.call_timed_out("StopTransaction")
    stats.call_received("Reset", "answered")
    stats.call_received("Foo", "NotImplemented")
    stats.handshake_failed("HTTP 401")
    stats.handshake_succeeded(reconnect=False)
    stats.handshake_succeeded(reconnect=True)
    stats.connected_at_end = 1
    config = SimulationConfig(url="ws://127.0.0.1:1/ocpp/", charge_points=2, password="secret")
    report = build_report(config=config, stats=stats, ended_by="duration", notes=[])

    heartbeat = report["sent"]["Heartbeat"]
    assert (heartbeat["sent"], heartbeat["answered"]) == (4, 4)
    assert heartbeat["msgs_per_s"] == pytest.approx(0.4, abs=0.01)
    assert heartbeat["latency_ms"]["p50"] == pytest.approx(2.0, rel=0.005)
    assert heartbeat["latency_ms"]["max"] == 4.0
    assert report["sent"]["StartTransaction"]["call_errors"] == {"SecurityError": 1}
    assert report["sent"]["StopTransaction"]["timeouts"] == 1
    assert report["received"] == {"Foo": {"NotImplemented": 1}, "Reset": {"answered": 1}}
    assert report["connections"] == {
        "target": 2,
        "connected_at_end": 1,
        "handshakes_ok": 2,
        "failed_handshakes": {"HTTP 401": 1},
        "reconnects": 1,
        "dropped": 0,
        "reboots": 0,
    }
    totals = report["totals"]
    assert (totals["sent"], totals["answered"], totals["call_errors"]) == (6, 4, 1)
    assert totals["errors"] == 3  # the CALLERROR, the timeout, the refused handshake
    assert report["config"]["password"] == "********"

    text = format_report(report)
    assert "HTTP 401 x1" in text
    assert "StartTransaction errors: SecurityError x1" in text
    assert "StopTransaction errors: timeout x1" in text
    assert "secret" not in text

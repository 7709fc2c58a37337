"""The load generator's arithmetic: percentiles and the measurement window."""

from bench.loadgen.stats import Recorder, latency_summary, percentile


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_latency_summary_of_nothing_and_of_values():
    assert latency_summary([]) == {"n": 0}
    summary = latency_summary([3.0, 1.0, 2.0, 4.0])
    assert summary["n"] == 4
    assert summary["p50_ms"] == 2.0
    assert summary["max_ms"] == 4.0
    assert summary["mean_ms"] == 2.5


def test_recorder_counts_only_calls_measured_in_the_window():
    rec = Recorder()
    rec.record("Heartbeat", 0.001, None)  # before the window
    rec.start_window()
    rec.record("Heartbeat", 0.002, None)
    rec.record("Heartbeat", 0.003, "InternalError")
    rec.stop_window()
    report = rec.report()
    assert report["msgs"] == 2
    assert report["latency"]["max_ms"] == 3.0
    assert report["call_errors"] == {"Heartbeat:InternalError": 1}


def test_recorder_fixed_rate_calls_say_themselves_whether_they_count():
    rec = Recorder()
    rec.window_start, rec.window_end = 0.0, 1.0
    rec.record("Heartbeat", 0.050, None, service=0.002, in_window=True)
    rec.record("Heartbeat", 0.010, None, service=0.010, in_window=False)
    report = rec.report()
    assert report["msgs"] == 1
    assert report["msgs_per_s"] == 1.0
    assert report["latency"]["p99_ms"] == 50.0
    assert report["service_latency"]["p99_ms"] == 2.0

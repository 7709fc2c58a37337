"""The fixed-rate schedule: each charge point's period, and how many sends fall in a window."""

import pytest

from bench.loadgen.paced import next_slot, period_for, slots_between


def test_period_spreads_the_total_rate_over_the_connections():
    assert period_for(500.0, 1000) == 2.0
    assert period_for(10_000 / 30, 10_000) == pytest.approx(30.0)
    with pytest.raises(ValueError):
        period_for(0, 10)


def test_slots_between_counts_sends_in_a_half_open_window():
    # Sends at 0.5, 1.5, 2.5, 3.5, ...
    assert slots_between(0.5, 1.0, 1.0, 3.0) == 2  # 1.5, 2.5
    assert slots_between(0.5, 1.0, 1.5, 3.5) == 2  # 1.5 in, 3.5 out
    assert slots_between(0.5, 1.0, 0.0, 0.5) == 0
    assert slots_between(5.0, 1.0, 0.0, 5.0) == 0  # first send after the window
    assert slots_between(0.5, 1.0, 3.0, 3.0) == 0


def test_slots_between_matches_a_count_by_hand():
    first, period = 0.37, 0.21
    sends = [first + k * period for k in range(200)]
    for t0, t1 in [(0.0, 1.0), (2.5, 7.3), (1.0, 1.1)]:
        assert slots_between(first, period, t0, t1) == sum(t0 <= t < t1 for t in sends)


def test_next_slot_after_a_reconnect_skips_the_missed_sends():
    assert next_slot(10.0, 30.0, 5.0) == 0
    assert next_slot(10.0, 30.0, 10.0) == 0
    assert next_slot(10.0, 30.0, 41.0) == 2  # 70.0 is the next send time

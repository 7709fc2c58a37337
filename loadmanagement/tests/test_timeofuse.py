"""Time-of-use planning's promises, for any signal and any flexible session (hypothesis)."""

import math
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from loadmanagement.timeofuse import Flexibility, PlanReason, SignalEntry, plan

MIDNIGHT = datetime(2026, 3, 1, tzinfo=UTC)


@st.composite
def cases(draw):
    now = MIDNIGHT + timedelta(minutes=draw(st.integers(0, 23 * 60)))
    departure = now + timedelta(minutes=draw(st.integers(1, 14 * 60)))
    max_w = draw(st.sampled_from([3680, 7360, 11040, 22080]))
    energy = draw(st.floats(0, 120_000))
    prices = draw(st.lists(st.one_of(st.none(), st.integers(0, 50)), min_size=40, max_size=40))
    signal = [
        SignalEntry(MIDNIGHT + timedelta(hours=h), MIDNIGHT + timedelta(hours=h + 1), p)
        for h, p in enumerate(prices)
        if p is not None
    ]
    return now, Flexibility(departure, energy, max_w, min_w=1380), signal


@settings(max_examples=300, deadline=None)
@given(cases())
def test_departure_energy_met_whenever_feasible(case):
    now, flex, signal = case
    result = plan(now=now, flexibility=flex, signal=signal)
    reachable = flex.max_w * (flex.departure_at - now).total_seconds() / 3600 >= flex.energy_wh
    if flex.energy_wh <= 0:
        assert result.reason == PlanReason.MET and result.cap_w is None
    elif not reachable:
        # Never worse than without time-of-use: no cap at all.
        assert result.reason == PlanReason.UNREACHABLE and result.cap_w is None
    else:
        assert math.isclose(sum(s.planned_wh for s in result.slots), flex.energy_wh, rel_tol=1e-9)
        for slot in result.slots:
            assert slot.planned_wh <= flex.max_w * slot.hours + 1e-6
        # Waiting now still leaves enough time at full power.
        if result.reason == PlanReason.WAIT:
            later = sum(flex.max_w * s.hours for s in result.slots[1:])
            assert later >= flex.energy_wh - 1e-6


@settings(max_examples=300, deadline=None)
@given(cases())
def test_never_above_the_session_maximum(case):
    now, flex, signal = case
    result = plan(now=now, flexibility=flex, signal=signal)
    assert result.cap_w is None or 0 <= result.cap_w <= flex.max_w


@settings(max_examples=300, deadline=None)
@given(cases())
def test_cheaper_hours_are_preferred(case):
    now, flex, signal = case
    result = plan(now=now, flexibility=flex, signal=signal)

    def rank(slot):
        return math.inf if slot.value is None else slot.value

    for used in (s for s in result.slots if s.planned_wh > 0):
        for other in result.slots:
            if rank(other) < rank(used):
                # Every strictly cheaper slot is filled up before a dearer one is used.
                assert other.planned_wh >= flex.max_w * other.hours - 1e-6


def test_waits_for_the_cheap_night_hour_and_says_when():
    now = MIDNIGHT + timedelta(hours=18)
    signal = [
        SignalEntry(MIDNIGHT + timedelta(hours=h), MIDNIGHT + timedelta(hours=h + 1), 40)
        for h in range(18, 26)
    ]
    signal.append(SignalEntry(MIDNIGHT + timedelta(hours=26), MIDNIGHT + timedelta(hours=27), 5))
    flex = Flexibility(MIDNIGHT + timedelta(hours=31), 7000, 11040)
    result = plan(now=now, flexibility=flex, signal=signal)
    assert result.reason == PlanReason.WAIT and result.cap_w == 0
    assert result.next_start == MIDNIGHT + timedelta(hours=26)

    at_two = plan(now=MIDNIGHT + timedelta(hours=26), flexibility=flex, signal=signal)
    assert at_two.reason == PlanReason.CHARGE and at_two.cap_w == 7000

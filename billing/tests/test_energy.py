"""The energy curve shared by pricing and the hourly roll-up."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from billing.energy import Point, charging_end, energy_at, energy_between, energy_curve

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def minutes(m: int) -> datetime:
    return T0 + timedelta(minutes=m)


def curve(stop=60, total=1000, readings=()):
    return energy_curve(
        start=T0,
        stop=None if stop is None else minutes(stop),
        total_wh=total,
        readings=[(minutes(m), D(wh)) for m, wh in readings],
    )


def test_without_readings_a_straight_line_to_the_total():
    assert curve() == (Point(T0, D(0)), Point(minutes(60), D(1000)))
    assert energy_at(curve(), minutes(15)) == D(250)


@pytest.mark.parametrize(
    ("readings", "expected"),
    [
        # a glitch below an earlier reading is held at the earlier value
        ([(10, 400), (20, 300), (30, 600)], [0, 400, 400, 600, 1000]),
        # a reading above the session's total is capped at it
        ([(10, 400), (20, 5000)], [0, 400, 1000, 1000]),
        # readings outside the session are dropped
        ([(-5, 10), (0, 20), (60, 900), (75, 2000), (30, 500)], [0, 500, 1000]),
    ],
)
def test_curve_never_runs_backwards_nor_past_the_total(readings, expected):
    assert [point.wh for point in curve(readings=readings)] == [D(wh) for wh in expected]


def test_open_session_ends_at_its_last_reading():
    open_curve = curve(stop=None, total=None, readings=[(20, 300), (40, 900)])
    assert open_curve[-1] == Point(minutes(40), D(900))
    assert energy_at(open_curve, minutes(90)) == D(900)


def test_energy_between_interpolates_inside_segments():
    shaped = curve(readings=[(30, 900)])  # 900 Wh in 30 min, then 100 Wh in 30 min
    assert energy_between(shaped, minutes(15), minutes(45)) == D(450) + D(50)
    assert energy_between(shaped, minutes(45), minutes(15)) == 0
    assert energy_between(shaped, minutes(-30), minutes(120)) == D(1000)


@pytest.mark.parametrize(
    ("readings", "total", "threshold", "ended"),
    [
        ([(30, 1000)], 1000, 100, 30),  # full at 10:30, parked until 11:00
        ([(30, 1000)], 1040, 100, 30),  # 40 Wh in the last half hour = 80 W: a trickle
        ([(30, 1000)], 1060, 100, 60),  # 60 Wh in half an hour = 120 W: still charging
        ([], 50, 100, 60),  # nothing above the threshold: the last stretch with energy
        ([(30, 0)], 0, 100, None),  # no energy at all
    ],
)
def test_charging_end(readings, total, threshold, ended):
    result = charging_end(curve(total=total, readings=readings), threshold_w=threshold)
    assert result == (None if ended is None else minutes(ended))

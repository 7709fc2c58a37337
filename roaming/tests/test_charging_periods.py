"""A CDR's charging periods split where the session's price changes, and add up to its energy."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from billing.energy import Point
from billing.pricing import Period, Terms
from roaming.charging_periods import cdr_charging_periods

NIGHT = Period(start=time(23, 0), end=time(7, 0), price_per_kwh=Decimal("0.20"))
WITH_NIGHT = Terms(currency="EUR", price_per_kwh=Decimal("0.40"), periods=(NIGHT,))
FLAT = Terms(currency="EUR", price_per_kwh=Decimal("0.40"))


def at(hour: int, day: int = 1, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def periods(terms, curve, *, start, stop, charged_until=None, total_wh=None, zone="UTC"):
    return cdr_charging_periods(
        terms=terms,
        time_zone=zone,
        curve=tuple(Point(at=moment, wh=Decimal(wh)) for moment, wh in curve),
        start=start,
        charged_until=charged_until or stop,
        stop=stop,
        total_wh=total_wh if total_wh is not None else curve[-1][1],
        tariff_id="T1",
    )


def volumes(period) -> dict:
    return {dimension["type"]: dimension["volume"] for dimension in period["dimensions"]}


def test_a_session_across_the_night_price_is_two_charging_periods():
    found = periods(
        WITH_NIGHT, [(at(21), 0), (at(1, day=2), 40_000)], start=at(21), stop=at(1, day=2)
    )
    assert [p["start_date_time"] for p in found] == [
        "2026-12-01T21:00:00.000Z",
        "2026-12-01T23:00:00.000Z",
    ]
    assert [volumes(p) for p in found] == [
        {"ENERGY": 20.0, "TIME": 2.0},
        {"ENERGY": 20.0, "TIME": 2.0},
    ]
    assert {p["tariff_id"] for p in found} == {"T1"}


def test_parking_after_charging_is_its_own_period():
    found = periods(
        WITH_NIGHT,
        [(at(21), 0), (at(0, day=2), 30_000), (at(1, day=2), 30_000)],
        start=at(21),
        charged_until=at(0, day=2),
        stop=at(1, day=2),
    )
    assert [(p["start_date_time"][11:16], volumes(p)) for p in found] == [
        ("21:00", {"ENERGY": 20.0, "TIME": 2.0}),
        ("23:00", {"ENERGY": 10.0, "TIME": 1.0}),
        ("00:00", {"PARKING_TIME": 1.0}),
    ]


def test_a_tariff_without_periods_is_one_charging_period():
    found = periods(FLAT, [(at(21), 0), (at(1, day=2), 40_000)], start=at(21), stop=at(1, day=2))
    assert [volumes(p) for p in found] == [{"ENERGY": 40.0, "TIME": 4.0}]


def test_the_periods_energy_adds_up_to_the_sessions_despite_rounding():
    # Thirds of a kWh round in each period; the last takes the remainder.
    three = Terms(
        currency="EUR",
        periods=(
            Period(start=time(1, 0), end=time(2, 0), price_per_kwh=Decimal("0.1")),
            Period(start=time(2, 0), end=time(3, 0), price_per_kwh=Decimal("0.2")),
        ),
    )
    found = periods(three, [(at(0), 0), (at(3), 10_001)], start=at(0), stop=at(3))
    energies = [Decimal(str(volumes(p)["ENERGY"])) for p in found]
    assert len(found) == 3
    assert sum(energies) == Decimal("10.001")


def test_a_clock_change_without_a_price_change_does_not_split():
    # Europe/Amsterdam went back an hour at 01:00 UTC on 2026-10-25: no period boundary there.
    start = datetime(2026, 10, 24, 23, 0, tzinfo=UTC)
    stop = start + timedelta(hours=4)
    found = periods(
        FLAT, [(start, 0), (stop, 8_000)], start=start, stop=stop, zone="Europe/Amsterdam"
    )
    assert [volumes(p) for p in found] == [{"ENERGY": 8.0, "TIME": 4.0}]


def test_no_time_charging_still_gives_the_energy_one_period():
    found = periods(FLAT, [(at(21), 0)], start=at(21), stop=at(21), total_wh=500)
    assert [volumes(p) for p in found] == [{"ENERGY": 0.5, "TIME": 0.0}]

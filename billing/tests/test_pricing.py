"""Pricing as a table: one row per rule, worked out by hand in the comments."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal as D

import pytest

from billing.money import round_money
from billing.pricing import (
    Component,
    Period,
    PricingError,
    SessionFacts,
    Terms,
    periods_overlap,
    price_session,
)

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
NIGHT = Period(time(22), time(6), price_per_kwh=D("0.20"))
BERLIN = "Europe/Berlin"


def at(text: str) -> datetime:
    """A UTC instant from 'YYYY-MM-DD HH:MM'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def facts(start=T0, minutes=60, energy_wh=10_000, time_zone="UTC", readings=()):
    return SessionFacts(
        start=start,
        stop=start + timedelta(minutes=minutes),
        energy_wh=energy_wh,
        time_zone=time_zone,
        readings=tuple((start + timedelta(minutes=m), D(wh)) for m, wh in readings),
    )


def terms(**kwargs):
    currency = kwargs.pop("currency", "EUR")
    prices = {k: D(v) if isinstance(v, str) else v for k, v in kwargs.items()}
    return Terms(currency=currency, **prices)


# (id, terms, facts, expected lines as (component, description, quantity, amount), net, vat)
CASES = [
    (
        "energy only; 12.345 kWh x 0.35 = 4.32075 -> 4.32; VAT 19 % = 0.8208 -> 0.82",
        terms(price_per_kwh="0.35", vat_rate="19"),
        facts(energy_wh=12_345),
        [("energy", "Energy", "12.345", "4.32")],
        "4.32",
        "0.82",
    ),
    (
        "per minute of charging: 90 min x 0.05 = 4.50; energy free",
        terms(price_per_minute="0.05"),
        facts(minutes=90),
        [("energy", "Energy", "10", "0.00"), ("time", "Charging time", "90", "4.50")],
        "4.50",
        "0.00",
    ),
    (
        "flat session fee on top of energy: 3.00 + 1.50",
        terms(price_per_kwh="0.30", session_fee="1.50"),
        facts(),
        [("energy", "Energy", "10", "3.00"), ("session_fee", "Session fee", "1", "1.50")],
        "4.50",
        "0.00",
    ),
    (
        "idle fee: charged 10:00-10:30, parked until 12:00; 90 - 15 grace = 75 min x 0.10",
        terms(
            price_per_kwh="0.30",
            price_per_minute="0.02",
            idle_price_per_minute="0.10",
            idle_grace_minutes=15,
        ),
        facts(minutes=120, readings=[(30, 10_000), (60, 10_000)]),
        [
            ("energy", "Energy", "10", "3.00"),
            ("time", "Charging time", "30", "0.60"),
            ("idle", "Idle fee (after 15 min grace)", "75", "7.50"),
        ],
        "11.10",
        "0.00",
    ),
    (
        "idle within the grace period is free",
        terms(idle_price_per_minute="0.10", idle_grace_minutes=30),
        facts(minutes=50, readings=[(30, 10_000)]),
        [("energy", "Energy", "10", "0.00")],
        "0.00",
        "0.00",
    ),
    (
        "a trickle below the threshold (40 Wh in an hour = 40 W) is idle, its energy billed",
        terms(price_per_kwh="1", idle_price_per_minute="0.10", idle_power_threshold_w=100),
        facts(minutes=90, energy_wh=10_040, readings=[(30, 10_000)]),
        [("energy", "Energy", "10.04", "10.04"), ("idle", "Idle fee", "60", "6.00")],
        "16.04",
        "0.00",
    ),
    (
        "without readings the whole session counts as charging: no idle fee",
        terms(price_per_minute="0.01", idle_price_per_minute="0.10"),
        facts(minutes=120),
        [("energy", "Energy", "10", "0.00"), ("time", "Charging time", "120", "1.20")],
        "1.20",
        "0.00",
    ),
    (
        "minimum per session lifts 0.30 to 2.00",
        terms(price_per_kwh="0.30", min_price="2.00", vat_rate="10"),
        facts(energy_wh=1_000),
        [("energy", "Energy", "1", "0.30"), ("minimum", "Minimum per session", "1", "1.70")],
        "2.00",
        "0.20",
    ),
    (
        "maximum per session caps 50.00 at 30.00",
        terms(price_per_kwh="0.50", max_price="30.00"),
        facts(energy_wh=100_000),
        [("energy", "Energy", "100", "50.00"), ("maximum", "Maximum per session", "1", "-20.00")],
        "30.00",
        "0.00",
    ),
    (
        "within min and max: no adjustment",
        terms(price_per_kwh="0.50", min_price="1.00", max_price="30.00"),
        facts(energy_wh=10_000),
        [("energy", "Energy", "10", "5.00")],
        "5.00",
        "0.00",
    ),
    (
        "VAT rounds half up, not to even: 10 % of 0.25 = 0.025 -> 0.03",
        terms(price_per_kwh="0.25", vat_rate="10"),
        facts(energy_wh=1_000),
        [("energy", "Energy", "1", "0.25")],
        "0.25",
        "0.03",
    ),
    (
        "line rounding half up: 1 kWh x 0.125 -> 0.13; VAT 20 % = 0.026 -> 0.03",
        terms(price_per_kwh="0.125", vat_rate="20"),
        facts(energy_wh=1_000),
        [("energy", "Energy", "1", "0.13")],
        "0.13",
        "0.03",
    ),
    (
        "yen has no minor unit: 7.5 x 45.5 = 341.25 -> 341; VAT 34.1 -> 34",
        terms(currency="JPY", price_per_kwh="45.5", vat_rate="10"),
        facts(energy_wh=7_500),
        [("energy", "Energy", "7.5", "341")],
        "341",
        "34",
    ),
    (
        "zero energy is a zero invoice: no session fee, no minimum",
        terms(price_per_kwh="0.30", session_fee="1.00", min_price="5.00"),
        facts(energy_wh=0),
        [("energy", "Energy", "0", "0.00")],
        "0.00",
        "0.00",
    ),
    (
        "night rate from 22:00, UTC station: 21:00-23:00 evenly, 10 kWh at 0.40 + 10 at 0.20",
        terms(price_per_kwh="0.40", periods=(NIGHT,)),
        facts(start=at("2024-05-01 21:00"), minutes=120, energy_wh=20_000),
        [
            ("energy", "Energy", "10", "4.00"),
            ("energy", "Energy 22:00-06:00", "10", "2.00"),
        ],
        "6.00",
        "0.00",
    ),
    (
        "night rate in the station's zone: 19:00-21:00 UTC is 21:00-23:00 in Berlin (CEST)",
        terms(price_per_kwh="0.40", periods=(NIGHT,)),
        facts(start=at("2024-05-01 19:00"), minutes=120, energy_wh=20_000, time_zone=BERLIN),
        [
            ("energy", "Energy", "10", "4.00"),
            ("energy", "Energy 22:00-06:00", "10", "2.00"),
        ],
        "6.00",
        "0.00",
    ),
    (
        "energy per slice from the readings: 15 kWh before 22:00, 5 after",
        terms(price_per_kwh="0.40", periods=(NIGHT,)),
        facts(start=at("2024-05-01 21:00"), minutes=120, energy_wh=20_000, readings=[(60, 15_000)]),
        [
            ("energy", "Energy", "15", "6.00"),
            ("energy", "Energy 22:00-06:00", "5", "1.00"),
        ],
        "7.00",
        "0.00",
    ),
    (
        "across midnight, all inside the night period: one line",
        terms(price_per_kwh="0.40", periods=(NIGHT,)),
        facts(start=at("2024-05-01 23:00"), minutes=120, energy_wh=20_000),
        [("energy", "Energy 22:00-06:00", "20", "4.00")],
        "4.00",
        "0.00",
    ),
    (
        "the night period ends at 06:00 the next morning",
        terms(price_per_kwh="0.40", periods=(NIGHT,)),
        facts(start=at("2024-05-02 05:00"), minutes=120, energy_wh=20_000),
        [
            ("energy", "Energy 22:00-06:00", "10", "2.00"),
            ("energy", "Energy", "10", "4.00"),
        ],
        "6.00",
        "0.00",
    ),
    (
        "DST ends (Berlin, 27 Oct 2024): 22:00 CEST-06:00 CET is 9 hours of night, not 8",
        terms(price_per_kwh="0.40", periods=(NIGHT,)),
        facts(start=at("2024-10-26 19:00"), minutes=11 * 60, energy_wh=11_000, time_zone=BERLIN),
        [
            ("energy", "Energy", "2", "0.80"),
            ("energy", "Energy 22:00-06:00", "9", "1.80"),
        ],
        "2.60",
        "0.00",
    ),
    (
        "DST starts (Berlin, 31 Mar 2024): 22:00 CET-06:00 CEST is 7 hours of night, not 8",
        terms(price_per_kwh="0.40", periods=(NIGHT,)),
        facts(start=at("2024-03-30 20:00"), minutes=9 * 60, energy_wh=9_000, time_zone=BERLIN),
        [
            ("energy", "Energy", "2", "0.80"),
            ("energy", "Energy 22:00-06:00", "7", "1.40"),
        ],
        "2.20",
        "0.00",
    ),
    (
        "a boundary in the repeated hour (02:30 twice on 27 Oct): in the period twice",
        # 00:00-02:00 UTC is 02:00 CEST..02:59 CEST, 02:00 CET..03:00 CET:
        # 02:30-03:00 CEST and 02:30-03:00 CET are in 02:30-06:00, 1 h of the 2.
        terms(price_per_kwh="0.30", periods=(Period(time(2, 30), time(6), D("0.10")),)),
        facts(start=at("2024-10-27 00:00"), minutes=120, energy_wh=2_000, time_zone=BERLIN),
        [
            ("energy", "Energy", "1", "0.30"),
            ("energy", "Energy 02:30-06:00", "1", "0.10"),
        ],
        "0.40",
        "0.00",
    ),
    (
        "a boundary in the skipped hour (02:30 on 31 Mar): the period starts at 03:00 CEST",
        # 00:00-01:00 UTC is 01:00-02:00 CET (out), 01:00-02:00 UTC 03:00-04:00 CEST (in).
        terms(price_per_kwh="0.30", periods=(Period(time(2, 30), time(6), D("0.10")),)),
        facts(start=at("2024-03-31 00:00"), minutes=120, energy_wh=2_000, time_zone=BERLIN),
        [
            ("energy", "Energy", "1", "0.30"),
            ("energy", "Energy 02:30-06:00", "1", "0.10"),
        ],
        "0.40",
        "0.00",
    ),
    (
        "per-minute price by period; a period without a kWh price keeps the tariff's",
        terms(
            price_per_kwh="0.30",
            price_per_minute="0.03",
            periods=(Period(time(22), time(6), price_per_minute=D("0.01")),),
        ),
        facts(start=at("2024-05-01 21:30"), minutes=60, energy_wh=1_000),
        [
            ("energy", "Energy", "1", "0.30"),
            ("time", "Charging time", "30", "0.90"),
            ("time", "Charging time 22:00-06:00", "30", "0.30"),
        ],
        "1.50",
        "0.00",
    ),
    (
        "thirds of a kWh are rounded so that the lines add up to the energy billed",
        terms(price_per_kwh="0.30", periods=(Period(time(10, 20), time(10, 40), D("0.10")),)),
        facts(minutes=60, energy_wh=1_000),
        [
            ("energy", "Energy", "0.6667", "0.20"),
            ("energy", "Energy 10:20-10:40", "0.3333", "0.03"),
        ],
        "0.23",
        "0.00",
    ),
    (
        "a stop stamped before the start (charger clock) bills the energy, no time",
        terms(price_per_kwh="0.30", price_per_minute="0.05"),
        facts(minutes=-5, energy_wh=5_000),
        [("energy", "Energy", "5", "1.50")],
        "1.50",
        "0.00",
    ),
]


@pytest.mark.parametrize(
    ("tariff", "session", "expected", "net", "vat"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_price_session(tariff, session, expected, net, vat):
    bill = price_session(tariff, session)
    assert [
        (line.component, line.description, line.quantity, line.amount) for line in bill.lines
    ] == [(c, d, D(q), D(a)) for c, d, q, a in expected]
    assert (bill.net, bill.vat, bill.total) == (D(net), D(vat), D(net) + D(vat))
    assert bill.net == sum(line.amount for line in bill.lines)
    for line in bill.lines:  # every line is its own quantity x price, rounded
        assert line.amount == round_money(line.quantity * line.unit_price, tariff.currency)
    energy = sum(line.quantity for line in bill.lines if line.component == Component.ENERGY)
    assert energy == D(session.energy_wh) / 1000


@pytest.mark.parametrize(
    ("periods", "overlap"),
    [
        ([("22:00", "06:00"), ("05:00", "07:00")], True),
        ([("22:00", "06:00"), ("23:00", "23:30")], True),
        ([("22:00", "06:00"), ("06:00", "22:00")], False),
        ([("08:00", "12:00"), ("12:00", "13:00")], False),
        ([], False),
    ],
)
def test_periods_overlap(periods, overlap):
    parsed = [Period(time.fromisoformat(a), time.fromisoformat(b)) for a, b in periods]
    assert periods_overlap(parsed) is overlap


@pytest.mark.parametrize(
    ("moment", "inside"),
    [("21:59", False), ("22:00", True), ("00:00", True), ("05:59", True), ("06:00", False)],
)
def test_period_across_midnight_includes_start_excludes_end(moment, inside):
    assert NIGHT.contains(time.fromisoformat(moment)) is inside


def test_unknown_time_zone_cannot_be_priced():
    with pytest.raises(PricingError, match="Mars/Olympus"):
        price_session(terms(price_per_kwh="0.30"), facts(time_zone="Mars/Olympus"))


def test_old_snapshot_reads_with_defaults():
    old = {"id": 1, "name": "CP", "currency": "EUR", "price_per_kwh": "0.4000", "vat_rate": "19"}
    parsed = Terms.from_snapshot(old)
    assert parsed == Terms(currency="EUR", price_per_kwh=D("0.4"), vat_rate=D("19"))
    assert parsed.idle_power_threshold_w == 100
    assert price_session(parsed, facts(energy_wh=1_000)).total == D("0.48")


def test_snapshot_periods_are_read_in_order_of_start():
    snapshot = {
        "currency": "EUR",
        "periods": [
            {
                "start": "22:00:00",
                "end": "06:00:00",
                "price_per_kwh": "0.2",
                "price_per_minute": None,
            },
            {
                "start": "12:00:00",
                "end": "14:00:00",
                "price_per_kwh": None,
                "price_per_minute": "0.1",
            },
        ],
    }
    parsed = Terms.from_snapshot(snapshot)
    assert parsed.periods == (
        Period(time(12), time(14), None, D("0.1")),
        Period(time(22), time(6), D("0.2"), None),
    )

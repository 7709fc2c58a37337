"""A day of a 20-charger site on a grid limit that feeds 8: never above the limit."""

from io import StringIO

from django.core.management import call_command

from loadmanagement.simulation import simulate_day


def test_a_day_of_20_chargers_on_a_limit_for_8_stays_under_it():
    report = simulate_day(chargers=20, feeds=8, seed=1)
    print(
        f"\npeak {report.peak_w / 1000:.2f} kW of {report.capacity_w / 1000:.2f} kW; "
        f"{report.delivered_wh / 1000:.1f} of {report.requested_wh / 1000:.1f} kWh delivered"
    )
    assert report.peak_sessions > 8  # more cars than the limit feeds at full power...
    assert report.unmanaged_peak_w > report.capacity_w  # ...which would trip the fuse
    assert all(watts <= report.capacity_w for watts in report.per_minute_w)
    assert report.peak_w <= report.capacity_w
    # The limit is used, not wasted: most of what was asked for is delivered.
    assert report.delivered_wh > 0.75 * report.requested_wh
    assert report.peak_w > 0.8 * report.capacity_w


def test_a_tight_limit_makes_sessions_wait_and_still_holds():
    report = simulate_day(chargers=20, feeds=3, seed=7)
    assert report.waited_minutes > 0
    assert all(watts <= report.capacity_w for watts in report.per_minute_w)


def test_the_command_prints_the_peak_and_the_energy():
    out = StringIO()
    call_command("loadmgmt_simulate", "--chargers", "20", "--feeds", "8", stdout=out)
    text = out.getvalue()
    assert "limit 88.32 kW" in text
    assert "peak site power:" in text and "energy delivered:" in text

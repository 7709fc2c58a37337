"""The hourly energy roll-up per station (billing.services.station_energy_rollup)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.models import StationEnergyHour
from billing.services import station_energy_rollup
from stations.choices import SessionStatus
from stations.models import ChargePoint, Connector, MeterValue, Station, Transaction

pytestmark = pytest.mark.django_db

H10 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
NOW = H10 + timedelta(hours=3, minutes=20)  # 13:20: hours up to 13:00 are complete


@pytest.fixture
def station():
    return Station.objects.create(name="Depot")


def charge_point(station, name="CP-1"):
    return ChargePoint.objects.create(charge_point_id=name, station=station)


def make_session(cp, *, start, minutes=None, energy_wh=None, readings=()):
    connector, _ = Connector.objects.get_or_create(charge_point=cp, connector_id=1)
    stop = start + timedelta(minutes=minutes) if minutes is not None else None
    session = Transaction.objects.create(
        charge_point=cp,
        connector=connector,
        id_tag="TAG",
        status=SessionStatus.RUNNING if stop is None else SessionStatus.ENDED,
        meter_start=1000,
        start_timestamp=start,
        meter_stop=None if stop is None else 1000 + energy_wh,
        stop_timestamp=stop,
        energy_wh=energy_wh,
    )
    for offset, register in readings:
        MeterValue.objects.create(
            charge_point=cp,
            connector=connector,
            transaction=session,
            timestamp=start + timedelta(minutes=offset),
            value=str(register),
            numeric_value=Decimal(register),
            measurand="Energy.Active.Import.Register",
            unit="Wh",
            context="Sample.Periodic",
            location="Outlet",
            format="Raw",
        )
    return session


def rows():
    return {
        (row.station.name, row.hour): (row.energy_wh, row.session_count)
        for row in StationEnergyHour.objects.select_related("station")
    }


def test_sessions_are_split_by_hour_and_summed_per_station(station):
    cp = charge_point(station)
    # 10:30-11:30, 3 kWh by 11:00 (reading 4000 = meter start 1000 + 3000), 1 kWh after
    make_session(
        cp, start=H10 + timedelta(minutes=30), minutes=60, energy_wh=4000, readings=[(30, 4000)]
    )
    # 11:00-11:30 on another charge point of the same station, no readings
    other = charge_point(station, "CP-2")
    make_session(other, start=H10 + timedelta(hours=1), minutes=30, energy_wh=500)
    # a charge point without a station is not counted
    make_session(charge_point(None, "CP-LOOSE"), start=H10, minutes=60, energy_wh=9000)

    assert station_energy_rollup(now=NOW, hours=24) == 2
    assert rows() == {
        ("Depot", H10): (3000, 1),
        ("Depot", H10 + timedelta(hours=1)): (1500, 2),
    }


def test_open_session_counts_energy_read_so_far(station):
    make_session(charge_point(station), start=H10 + timedelta(hours=2), readings=[(30, 3000)])
    station_energy_rollup(now=NOW, hours=24)
    assert rows() == {("Depot", H10 + timedelta(hours=2)): (2000, 1)}


def test_rerun_is_idempotent_and_takes_in_late_data(station):
    cp = charge_point(station)
    session = make_session(cp, start=H10 + timedelta(hours=2), readings=[(30, 3000)])
    station_energy_rollup(now=NOW, hours=24)
    station_energy_rollup(now=NOW, hours=24)
    assert StationEnergyHour.objects.count() == 1

    # The stop arrives late: 4 kWh in all, until 12:45.
    Transaction.objects.filter(pk=session.pk).update(
        stop_timestamp=session.start_timestamp + timedelta(minutes=45),
        meter_stop=5000,
        energy_wh=4000,
    )
    station_energy_rollup(now=NOW, hours=24)
    assert rows() == {("Depot", H10 + timedelta(hours=2)): (4000, 1)}

    # A session that no longer counts leaves no row behind.
    MeterValue.objects.all().delete()
    Transaction.objects.all().delete()
    station_energy_rollup(now=NOW, hours=24)
    assert rows() == {}


def test_only_the_window_is_rewritten(station):
    cp = charge_point(station)
    make_session(cp, start=H10, minutes=60, energy_wh=1000)
    make_session(cp, start=H10 + timedelta(hours=2), minutes=60, energy_wh=2000)
    station_energy_rollup(now=NOW, hours=24)
    StationEnergyHour.objects.filter(hour=H10).update(energy_wh=7)  # outside the next window
    station_energy_rollup(now=NOW, hours=2)  # 11:00-13:00
    assert rows() == {
        ("Depot", H10): (7, 1),
        ("Depot", H10 + timedelta(hours=2)): (2000, 1),
    }

"""billing.reports: revenue per period, day and station; energy delivered; costs so far."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import Invoice, StationEnergyHour, Tariff
from billing.reports import (
    energy_delivered_by_day,
    energy_delivered_wh,
    month_first_day,
    period_month,
    period_today,
    revenue_by_day,
    revenue_by_station,
    revenue_totals,
    running_energy_so_far_wh,
    running_sessions,
    transaction_costs_so_far,
)
from billing.selectors import transaction_cost_so_far
from billing.services import tariff_snapshot
from stations.choices import DisputeResolution, SessionStatus
from stations.models import ChargePoint, Connector, MeterValue, Station, Transaction
from stations.selectors import transaction_energy_so_far, transaction_list

pytestmark = pytest.mark.django_db

BANGKOK = ZoneInfo("Asia/Bangkok")  # UTC+7, no DST


@pytest.fixture
def site():
    station = Station.objects.create(name="Depot", time_zone="Asia/Bangkok")
    charge_point = ChargePoint.objects.create(charge_point_id="CP-R1", station=station)
    Connector.objects.create(charge_point=charge_point, connector_id=1)
    Connector.objects.create(charge_point=charge_point, connector_id=2)
    return charge_point


@pytest.fixture
def tariff():
    return Tariff.objects.create(
        name="Standard",
        currency="THB",
        price_per_kwh=Decimal("7.50"),
        price_per_minute=Decimal("0.10"),
        session_fee=Decimal("5"),
        vat_rate=Decimal("7"),
        is_default=True,
    )


_numbers = iter(range(1, 10_000))


def session(charge_point, *, connector_id=1, status=SessionStatus.ENDED, **fields) -> Transaction:
    now = timezone.now()
    values = {
        "id_tag": "TAG",
        "status": status,
        "meter_start": 0,
        "start_timestamp": now - timedelta(hours=1),
    }
    if status != SessionStatus.RUNNING:
        values |= {"stop_timestamp": now - timedelta(minutes=5), "energy_wh": 1000}
    return Transaction.objects.create(
        charge_point=charge_point,
        connector=charge_point.connectors.get(connector_id=connector_id),
        **(values | fields),
    )


def invoice(charge_point, *, total, currency="THB", issued_at, energy_wh=1000) -> Invoice:
    total = Decimal(total)
    created = Invoice.objects.create(
        number=f"INV-{next(_numbers)}",
        transaction=session(charge_point),
        currency=currency,
        energy_wh=energy_wh,
        net_total=(total / Decimal("1.07")).quantize(Decimal("0.01")),
        vat_total=total - (total / Decimal("1.07")).quantize(Decimal("0.01")),
        total=total,
    )
    Invoice.objects.filter(pk=created.pk).update(issued_at=issued_at)  # auto_now_add
    return created


def reading(transaction, *, at, value, unit="Wh", phase=""):
    return MeterValue.objects.create(
        charge_point=transaction.charge_point,
        connector=transaction.connector,
        transaction=transaction,
        timestamp=at,
        value=str(value),
        numeric_value=Decimal(str(value)),
        measurand="Energy.Active.Import.Register",
        phase=phase,
        unit=unit,
        context="Sample.Periodic",
        location="Outlet",
        format="Raw",
    )


# --- periods ------------------------------------------------------------------------


def test_periods_are_the_operators_days_and_months():
    now = datetime(2025, 2, 28, 18, 30, tzinfo=UTC)  # already March 1st, 01:30 in Bangkok
    start, end = period_today(now=now, zone=BANGKOK)
    assert (start, end) == (
        datetime(2025, 3, 1, tzinfo=BANGKOK),
        datetime(2025, 3, 2, tzinfo=BANGKOK),
    )
    assert period_month(month=date(2024, 12, 15), zone=BANGKOK) == (
        datetime(2024, 12, 1, tzinfo=BANGKOK),
        datetime(2025, 1, 1, tzinfo=BANGKOK),
    )
    assert month_first_day(date(2025, 1, 20), -1) == date(2024, 12, 1)
    assert month_first_day(date(2025, 12, 2), 1) == date(2026, 1, 1)


# --- revenue --------------------------------------------------------------------------


def test_revenue_totals_are_the_sum_of_the_periods_invoices_per_currency(site):
    start, end = period_month(month=date(2025, 3, 1), zone=BANGKOK)
    inside = [
        invoice(site, total="107.00", issued_at=start),  # the first instant counts
        invoice(site, total="53.50", issued_at=datetime(2025, 3, 15, 12, tzinfo=UTC)),
        invoice(site, total="10.00", currency="EUR", issued_at=datetime(2025, 3, 2, tzinfo=UTC)),
    ]
    # Just outside, in Bangkok time: Feb 28th 23:59 and April 1st 00:00.
    invoice(site, total="999.00", issued_at=start - timedelta(minutes=1))
    invoice(site, total="999.00", issued_at=end)

    totals = {t.currency: t for t in revenue_totals(start=start, end=end)}

    assert list(totals) == ["EUR", "THB"]
    thb = [i for i in inside if i.currency == "THB"]
    assert totals["THB"].total == sum(i.total for i in thb) == Decimal("160.50")
    assert totals["THB"].net + totals["THB"].vat == totals["THB"].total
    assert totals["THB"].invoices == 2
    assert totals["THB"].energy_wh == 2000
    assert totals["EUR"].total == Decimal("10.00")
    assert totals["EUR"].as_json()["total"] == "10.00"


def test_revenue_of_a_station_leaves_out_the_others(site):
    other_station = Station.objects.create(name="Other")
    other = ChargePoint.objects.create(charge_point_id="CP-R2", station=other_station)
    Connector.objects.create(charge_point=other, connector_id=1)
    at = datetime(2025, 3, 10, tzinfo=UTC)
    invoice(site, total="20.00", issued_at=at)
    invoice(other, total="30.00", issued_at=at)
    start, end = period_month(month=date(2025, 3, 1), zone=BANGKOK)

    (total,) = revenue_totals(start=start, end=end, station_id=site.station_id)

    assert total.total == Decimal("20.00")


def test_revenue_by_day_counts_local_days(site):
    start, end = period_month(month=date(2025, 3, 1), zone=BANGKOK)
    invoice(site, total="10.00", issued_at=datetime(2025, 3, 4, 16, 59, tzinfo=UTC))  # 23:59 4th
    invoice(site, total="20.00", issued_at=datetime(2025, 3, 4, 17, 0, tzinfo=UTC))  # 00:00 5th
    invoice(site, total="5.00", issued_at=datetime(2025, 3, 5, 1, 0, tzinfo=UTC))

    rows = [
        (r.day, r.currency, r.total, r.invoices)
        for r in revenue_by_day(start=start, end=end, zone=BANGKOK)
    ]

    assert rows == [
        (date(2025, 3, 4), "THB", Decimal("10.00"), 1),
        (date(2025, 3, 5), "THB", Decimal("25.00"), 2),
    ]


def test_revenue_by_station_with_energy_delivered(site):
    loose = ChargePoint.objects.create(charge_point_id="CP-LOOSE")  # no station
    Connector.objects.create(charge_point=loose, connector_id=1)
    start, end = period_month(month=date(2025, 3, 1), zone=BANGKOK)
    at = datetime(2025, 3, 10, tzinfo=UTC)
    invoice(site, total="20.00", issued_at=at)
    invoice(site, total="2.00", currency="EUR", issued_at=at)
    invoice(loose, total="7.00", issued_at=at)
    quiet = Station.objects.create(name="Quiet")  # energy, no invoice yet
    StationEnergyHour.objects.create(station=site.station, hour=at, energy_wh=4000, session_count=1)
    StationEnergyHour.objects.create(
        station=site.station, hour=at + timedelta(hours=1), energy_wh=500, session_count=1
    )
    StationEnergyHour.objects.create(station=quiet, hour=at, energy_wh=100, session_count=1)
    StationEnergyHour.objects.create(  # another month
        station=quiet, hour=end + timedelta(hours=1), energy_wh=999, session_count=1
    )

    with CaptureQueriesContext(connection) as queries:
        rows = revenue_by_station(start=start, end=end)

    assert len(queries) == 2
    by_name = {row.station_name: row for row in rows}
    assert [row.station_name for row in rows] == ["Depot", "Quiet", ""]  # no station last
    depot = by_name["Depot"]
    assert [(t.currency, t.total) for t in depot.totals] == [
        ("EUR", Decimal("2.00")),
        ("THB", Decimal("20.00")),
    ]
    assert depot.energy_delivered_wh == 4500
    assert by_name["Quiet"].totals == () and by_name["Quiet"].energy_delivered_wh == 100
    assert by_name[""].station_id is None and by_name[""].totals[0].total == Decimal("7.00")


def test_energy_delivered_by_day_splits_at_local_midnight(site):
    start, end = period_month(month=date(2025, 3, 1), zone=BANGKOK)
    for hour, wh in ((16, 1000), (17, 2000), (18, 300)):  # 23:00, 00:00, 01:00 in Bangkok
        StationEnergyHour.objects.create(
            station=site.station,
            hour=datetime(2025, 3, 4, hour, tzinfo=UTC),
            energy_wh=wh,
            session_count=1,
        )
    assert energy_delivered_by_day(start=start, end=end, zone=BANGKOK) == {
        date(2025, 3, 4): 1000,
        date(2025, 3, 5): 2300,
    }


# --- energy delivered ---------------------------------------------------------------


def test_running_energy_in_sql_equals_the_per_session_figure(site):
    now = timezone.now()
    in_wh = session(site, status=SessionStatus.RUNNING, meter_start=10_000)
    reading(in_wh, at=now - timedelta(minutes=10), value=11_000)
    reading(in_wh, at=now - timedelta(minutes=5), value=12_345)
    reading(in_wh, at=now - timedelta(minutes=5), value=4_000, phase="L1")  # a phase: not it
    in_kwh = session(site, connector_id=2, status=SessionStatus.RUNNING, meter_start=500)
    reading(in_kwh, at=now - timedelta(minutes=3), value="2.7505", unit="kWh")
    other_cp = ChargePoint.objects.create(charge_point_id="CP-R3")
    Connector.objects.create(charge_point=other_cp, connector_id=1)
    no_reading = session(other_cp, status=SessionStatus.RUNNING, meter_start=0)
    other_cp2 = ChargePoint.objects.create(charge_point_id="CP-R4")
    Connector.objects.create(charge_point=other_cp2, connector_id=1)
    backwards = session(other_cp2, status=SessionStatus.RUNNING, meter_start=9_000)
    reading(backwards, at=now, value=100)  # a replaced meter: never negative

    per_session = [
        transaction_energy_so_far(transaction=t) or 0
        for t in transaction_list().filter(
            pk__in=[in_wh.pk, in_kwh.pk, no_reading.pk, backwards.pk]
        )
    ]
    assert sorted(per_session) == [0, 0, 2250, 2345]
    assert running_energy_so_far_wh() == sum(per_session) == 4595
    assert running_energy_so_far_wh(station_id=site.station_id) == 4595 - 0


def test_energy_delivered_counts_finished_and_running_but_nothing_in_doubt(site):
    now = timezone.now()
    since = now - timedelta(hours=3)
    session(site, energy_wh=12_500, stop_timestamp=now - timedelta(minutes=1))
    session(site, energy_wh=7_000, stop_timestamp=since - timedelta(minutes=1))  # before
    session(site, energy_wh=900_000, disputed_at=now)  # waiting for a decision
    session(site, energy_wh=900_000, disputed_at=now, dispute_resolution=DisputeResolution.VOIDED)
    session(site, energy_wh=300, disputed_at=now, dispute_resolution=DisputeResolution.ACCEPTED)
    session(site, status=SessionStatus.REFUSED, energy_wh=50)
    running = session(site, connector_id=2, status=SessionStatus.RUNNING, meter_start=1_000)
    reading(running, at=now, value=1_800)

    assert energy_delivered_wh(since=since) == 12_500 + 300 + 800
    other = Station.objects.create(name="Elsewhere")
    assert energy_delivered_wh(since=since, station_id=other.pk) == 0


# --- costs so far ---------------------------------------------------------------------


def test_batched_costs_equal_transaction_cost_so_far(site, tariff):
    now = timezone.now()
    snapshot = tariff_snapshot(tariff)
    running = session(
        site, status=SessionStatus.RUNNING, meter_start=1_000, tariff_snapshot=snapshot
    )
    reading(running, at=now - timedelta(minutes=1), value=9_000)
    ended = session(
        site,
        connector_id=2,
        meter_start=0,
        energy_wh=5_000,
        tariff_snapshot=snapshot,
        start_timestamp=now - timedelta(hours=2),
        stop_timestamp=now - timedelta(hours=1),
    )
    reading(ended, at=now - timedelta(hours=1, minutes=30), value=4_000)
    unpriced = session(site, status=SessionStatus.ENDED)  # no tariff fixed at its start
    broken = session(site, tariff_snapshot={"name": "no currency"})

    loaded = list(
        transaction_list()
        .select_related("charge_point__station")
        .filter(pk__in=[running.pk, ended.pk, unpriced.pk, broken.pk])
    )
    with CaptureQueriesContext(connection) as queries:
        costs = transaction_costs_so_far(transactions=loaded, at=now)
    assert len(queries) == 1  # the ended sessions' readings, all at once

    expected_running = transaction_cost_so_far(transaction_pk=running.pk, at=now)
    expected_ended = transaction_cost_so_far(transaction_pk=ended.pk, at=now)
    assert costs[running.pk] == expected_running and expected_running.total > 0
    assert costs[ended.pk] == expected_ended and expected_ended.currency == "THB"
    assert costs[unpriced.pk] is None and costs[broken.pk] is None


def test_running_sessions_cost_a_fixed_number_of_queries(site, tariff, django_assert_num_queries):
    now = timezone.now()
    snapshot = tariff_snapshot(tariff)

    def add(count):
        for number in range(count):
            cp = ChargePoint.objects.create(charge_point_id=f"CP-MANY-{count}-{number}")
            Connector.objects.create(charge_point=cp, connector_id=1)
            tx = session(cp, status=SessionStatus.RUNNING, tariff_snapshot=snapshot)
            reading(tx, at=now - timedelta(minutes=number), value=1_000 * (number + 1))

    add(2)
    with django_assert_num_queries(1):
        few = running_sessions(limit=50, now=now)
    add(20)
    with django_assert_num_queries(1):
        many = running_sessions(limit=10, now=now)
    assert len(few) == 2 and len(many) == 10
    newest = many[0]
    assert newest.energy_wh == transaction_energy_so_far(transaction=newest.transaction)
    assert newest.cost == transaction_cost_so_far(transaction_pk=newest.transaction.pk, at=now)
    assert newest.duration == now - newest.transaction.start_timestamp

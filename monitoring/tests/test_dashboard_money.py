"""The dashboard's money: revenue and energy tiles, running sessions with their cost so far."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import Invoice, Tariff
from billing.selectors import transaction_cost_so_far
from billing.services import tariff_snapshot
from monitoring.money import dashboard_money, dashboard_sessions
from monitoring.views import format_duration
from stations.choices import SessionStatus
from stations.models import ChargePoint, Connector, MeterValue, Station, Transaction

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/dashboard/"
# 2025-03-31 20:00 UTC is already April 1st, 03:00 in Bangkok.
NOW = datetime(2025, 3, 31, 20, 0, tzinfo=UTC)


@pytest.fixture
def bangkok(settings):
    settings.TIME_ZONE = "Asia/Bangkok"


@pytest.fixture
def cp():
    station = Station.objects.create(name="Depot", time_zone="Asia/Bangkok")
    charge_point = ChargePoint.objects.create(
        charge_point_id="CP-M", station=station, is_online=True
    )
    for number in (1, 2):
        Connector.objects.create(charge_point=charge_point, connector_id=number)
    return charge_point


_numbers = iter(range(1, 10_000))


def ended(cp, **fields):
    number = next(_numbers)
    values = {
        "id_tag": f"TAG-{number}",
        "status": SessionStatus.ENDED,
        "meter_start": 0,
        "start_timestamp": NOW - timedelta(days=40),
        "stop_timestamp": NOW - timedelta(days=40),
        "energy_wh": 0,
    }
    return Transaction.objects.create(
        charge_point=cp, connector=cp.connectors.get(connector_id=1), **(values | fields)
    )


def invoice(cp, total, issued_at, currency="THB"):
    created = Invoice.objects.create(
        number=f"M-{next(_numbers)}",
        transaction=ended(cp),
        currency=currency,
        energy_wh=1000,
        net_total=Decimal(total),
        vat_total=Decimal("0"),
        total=Decimal(total),
    )
    Invoice.objects.filter(pk=created.pk).update(issued_at=issued_at)


def test_revenue_tiles_are_the_invoices_of_the_operators_today_and_month(bangkok, cp):
    invoice(cp, "100.00", NOW - timedelta(hours=2))  # 01:00 April 1st in Bangkok: today
    invoice(cp, "20.50", NOW)  # today
    invoice(cp, "3.00", NOW, currency="EUR")
    invoice(cp, "999.00", NOW - timedelta(hours=4))  # 23:00 March 31st: last month
    invoice(cp, "7.00", datetime(2025, 4, 15, tzinfo=UTC))  # later this month (a clock ahead)

    money = dashboard_money(now=NOW)

    assert (money["today"], money["month"]) == ("2025-04-01", "2025-04")
    assert money["revenue"]["today"] == [
        {
            "currency": "EUR",
            "invoices": 1,
            "net": "3.00",
            "vat": "0.00",
            "total": "3.00",
            "energy_wh": 1000,
        },
        {
            "currency": "THB",
            "invoices": 2,
            "net": "120.50",
            "vat": "0.00",
            "total": "120.50",
            "energy_wh": 2000,
        },
    ]
    month = {t["currency"]: t["total"] for t in money["revenue"]["month"]}
    assert month == {"EUR": "3.00", "THB": "127.50"}
    assert "issued_at__day=1" in money["links"]["invoices_today"]
    assert money["links"]["report"].endswith("?month=2025-04")


def test_energy_tiles_today_and_this_month(bangkok, cp):
    ended(cp, stop_timestamp=NOW - timedelta(hours=1), energy_wh=5_000)  # today (local)
    ended(cp, stop_timestamp=NOW - timedelta(hours=5), energy_wh=2_000)  # March 31st local
    money = dashboard_money(now=NOW)
    assert money["energy"] == {"today_wh": 5_000, "month_wh": 5_000}
    later = dashboard_money(now=NOW + timedelta(days=2))
    assert later["energy"] == {"today_wh": 0, "month_wh": 5_000}


def test_running_sessions_show_energy_duration_and_cost_so_far(cp):
    tariff = Tariff.objects.create(
        name="T", currency="THB", price_per_kwh=Decimal("10"), is_default=True
    )
    now = timezone.now()
    session = Transaction.objects.create(
        charge_point=cp,
        connector=cp.connectors.get(connector_id=2),
        id_tag="TAG-RUN",
        meter_start=1_000,
        start_timestamp=now - timedelta(minutes=90, seconds=5),
        tariff_snapshot=tariff_snapshot(tariff),
    )
    MeterValue.objects.create(
        charge_point=cp,
        connector=session.connector,
        transaction=session,
        timestamp=now - timedelta(minutes=1),
        value="4500",
        numeric_value=Decimal("4500"),
        measurand="Energy.Active.Import.Register",
        unit="Wh",
        context="Sample.Periodic",
        location="Outlet",
        format="Raw",
    )
    sessions = dashboard_sessions(now=now)
    (row,) = sessions["rows"]
    assert sessions["count"] == 1
    assert (row["transaction"], row["charge_point"], row["connector_id"]) == (session.pk, "CP-M", 2)
    assert row["energy_wh"] == 3_500
    assert row["duration_s"] == 90 * 60 + 5
    expected = transaction_cost_so_far(transaction_pk=session.pk, at=now)
    assert row["cost"] == {
        "currency": "THB",
        "net": str(expected.net),
        "total": str(expected.total),
    }
    assert Decimal(row["cost"]["total"]) == Decimal("35.00")


def test_the_page_shows_the_money_and_a_stop_button_per_session(admin_client, cp):
    invoice(cp, "1234.50", timezone.now())
    Transaction.objects.create(
        charge_point=cp,
        connector=cp.connectors.get(connector_id=2),
        id_tag="TAG-RUN",
        meter_start=0,
        start_timestamp=timezone.now() - timedelta(minutes=3),
    )
    html = admin_client.get(DASHBOARD).text
    assert 'data-money="revenue-today"' in html and "1,234.50 THB" in html
    assert 'id="energy-month"' in html and 'id="link-revenue-report"' in html
    assert 'data-quick="stop"' in html and 'name="transaction"' in html
    assert 'data-role="cost">—<' in html  # no prices fixed at its start: no cost to show


def test_durations_read_hours_minutes_seconds():
    assert format_duration(0) == "0:00:00"
    assert format_duration(3 * 3600 + 5 * 60 + 7) == "3:05:07"
    assert format_duration(30 * 3600) == "30:00:00"
    assert format_duration(-5) == "0:00:00"

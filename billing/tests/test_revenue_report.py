"""The console's revenue report (Billing → Invoices → Revenue report)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.models import Invoice, StationEnergyHour
from stations.choices import SessionStatus
from stations.models import ChargePoint, Connector, Station, Transaction

pytestmark = pytest.mark.django_db

REPORT = reverse("admin:billing_invoice_revenue")
_numbers = iter(range(1, 10_000))


@pytest.fixture(autouse=True)
def bangkok(settings):
    settings.TIME_ZONE = "Asia/Bangkok"


def site(name: str) -> ChargePoint:
    station = Station.objects.create(name=name)
    cp = ChargePoint.objects.create(charge_point_id=f"CP-{name}", station=station)
    Connector.objects.create(charge_point=cp, connector_id=1)
    return cp


def invoice(cp, total, issued_at, currency="THB"):
    number = next(_numbers)
    session = Transaction.objects.create(
        charge_point=cp,
        connector=cp.connectors.get(connector_id=1),
        id_tag=f"T{number}",
        status=SessionStatus.ENDED,
        meter_start=0,
        start_timestamp=issued_at - timedelta(hours=1),
        stop_timestamp=issued_at,
        energy_wh=1000,
    )
    created = Invoice.objects.create(
        number=f"R-{number}",
        transaction=session,
        currency=currency,
        energy_wh=1000,
        net_total=Decimal(total),
        vat_total=Decimal(0),
        total=Decimal(total),
    )
    Invoice.objects.filter(pk=created.pk).update(issued_at=issued_at)
    return created


@pytest.fixture
def march():
    north, south = site("North"), site("South")
    invoice(north, "100.00", datetime(2025, 3, 3, 5, tzinfo=UTC))
    invoice(north, "50.00", datetime(2025, 3, 3, 18, tzinfo=UTC))  # March 4th in Bangkok
    invoice(south, "30.00", datetime(2025, 3, 20, tzinfo=UTC))
    invoice(south, "5.00", datetime(2025, 3, 20, tzinfo=UTC), currency="EUR")
    invoice(north, "999.00", datetime(2025, 2, 28, 16, 59, tzinfo=UTC))  # Feb 28th 23:59
    StationEnergyHour.objects.create(
        station=north.station, hour=datetime(2025, 3, 3, 5, tzinfo=UTC), energy_wh=12_000
    )
    return north, south


def test_the_report_of_a_month_has_totals_charts_days_and_stations(admin_client, march):
    north, south = march
    response = admin_client.get(REPORT, {"month": "2025-03"})
    assert response.status_code == 200
    context = response.context
    totals = {t.currency: t.total for t in context["totals"]}
    assert totals == {"EUR": Decimal("5.00"), "THB": Decimal("180.00")}
    assert context["invoice_count"] == 4
    assert len(context["rows"]) == 31
    day = {row["day"].day: row for row in context["rows"]}
    assert day[3]["amounts"] == [None, Decimal("100.00")]  # EUR, THB
    assert day[4]["amounts"] == [None, Decimal("50.00")]
    assert day[3]["energy_kwh"] == "12.0"
    assert [row["name"] for row in context["stations"]] == ["North", "South"]
    html = response.text
    assert html.count('data-chart="revenue"') == 2  # one chart per currency
    assert 'data-chart="energy"' in html and "<svg" in html
    assert 'data-day="2025-03-04"' in html
    assert "date_from=2025-03-01" in context["export_url"]
    assert "date_to=2025-03-31" in context["export_url"]


def test_one_station(admin_client, march):
    north, _ = march
    response = admin_client.get(REPORT, {"month": "2025-03", "station": north.station_id})
    assert response.status_code == 200
    assert [(t.currency, t.total) for t in response.context["totals"]] == [
        ("THB", Decimal("150.00"))
    ]
    assert response.context["stations"] == []  # the per-station table is for all of them
    assert f"station={north.station_id}" in response.context["next_url"]


def test_this_month_by_default(admin_client, march):
    response = admin_client.get(REPORT)
    assert response.status_code == 200
    assert response.context["month"].day == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"month": "2025-13"}, "month"),
        ({"month": "March"}, "month"),
        ({"station": "999999"}, "station"),
    ],
)
def test_a_bad_field_is_a_400_naming_it(admin_client, params, field):
    response = admin_client.get(REPORT, params)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert 'id="revenue-errors"' in response.text


def test_only_who_may_see_invoices(client, django_user_model):
    staff = django_user_model.objects.create_user(username="clerk", password="x", is_staff=True)
    client.force_login(staff)
    assert client.get(REPORT).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_invoice"))
    assert client.get(REPORT).status_code == 200


def test_the_report_costs_the_same_queries_for_more_invoices(admin_client, march):
    north, south = march
    with CaptureQueriesContext(connection) as few:
        admin_client.get(REPORT, {"month": "2025-03"})
    for number in range(30):
        invoice(
            north if number % 2 else south, "1.00", datetime(2025, 3, 10, number % 24, tzinfo=UTC)
        )
    with CaptureQueriesContext(connection) as many:
        admin_client.get(REPORT, {"month": "2025-03"})
    assert len(many) == len(few)

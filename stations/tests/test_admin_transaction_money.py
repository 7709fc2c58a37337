"""The transaction list's duration and cost columns, without a query per row."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing.models import Invoice, Tariff
from billing.selectors import transaction_cost_so_far
from billing.services import tariff_snapshot
from stations.admin.transactions import duration_text
from stations.choices import SessionStatus
from stations.models import ChargePoint, Connector, MeterValue, Station, Transaction

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:stations_transaction_changelist")


@pytest.fixture
def snapshot():
    tariff = Tariff.objects.create(
        name="T", currency="EUR", price_per_kwh=Decimal("0.40"), is_default=True
    )
    return tariff_snapshot(tariff)


def add_sessions(prefix: str, count: int, snapshot: dict) -> list[Transaction]:
    """Per charge point: an invoiced session and a running one with a reading."""
    station = Station.objects.create(name=f"Site {prefix}", time_zone="Europe/Berlin")
    now = timezone.now()
    running = []
    for number in range(count):
        cp = ChargePoint.objects.create(
            charge_point_id=f"{prefix}-{number}", station=station, is_online=number % 2 == 0
        )
        connector = Connector.objects.create(charge_point=cp, connector_id=1)
        done = Transaction.objects.create(
            charge_point=cp,
            connector=connector,
            id_tag="TAG",
            status=SessionStatus.ENDED,
            meter_start=0,
            start_timestamp=now - timedelta(hours=3),
            stop_timestamp=now - timedelta(hours=1, minutes=30),
            energy_wh=10_000,
            tariff_snapshot=snapshot,
        )
        Invoice.objects.create(
            number=f"{prefix}-{number}",
            transaction=done,
            currency="EUR",
            energy_wh=10_000,
            net_total=Decimal("4.00"),
            vat_total=Decimal("0.76"),
            total=Decimal("4.76"),
        )
        session = Transaction.objects.create(
            charge_point=cp,
            connector=connector,
            id_tag="TAG",
            meter_start=1_000,
            start_timestamp=now - timedelta(minutes=20),
            tariff_snapshot=snapshot,
        )
        MeterValue.objects.create(
            charge_point=cp,
            connector=connector,
            transaction=session,
            timestamp=now - timedelta(minutes=1),
            value="6000",
            numeric_value=Decimal("6000"),
            measurand="Energy.Active.Import.Register",
            unit="Wh",
            context="Sample.Periodic",
            location="Outlet",
            format="Raw",
        )
        running.append(session)
    return running


def test_duration_and_cost_columns(admin_client, snapshot):
    (session,) = add_sessions("CP", 1, snapshot)
    Transaction.objects.create(  # ended, not invoiced
        charge_point=session.charge_point,
        connector=session.connector,
        id_tag="OTHER",
        status=SessionStatus.ENDED,
        meter_start=0,
        start_timestamp=timezone.now() - timedelta(days=1),
        stop_timestamp=timezone.now() - timedelta(days=1) + timedelta(minutes=45),
        energy_wh=100,
    )
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    html = response.text
    assert "column-duration_column" in html and "column-cost_column" in html
    assert "4.76 EUR" in html  # the invoice's gross total
    assert "1:30:00" in html  # the invoiced session's 90 minutes
    assert "0:45:00" in html
    so_far = transaction_cost_so_far(transaction_pk=session.pk)
    assert f"{so_far.total} EUR (so far)" in html  # 5 kWh at 0.40
    assert so_far.total == Decimal("2.00")


def test_the_list_costs_the_same_queries_for_many_rows(admin_client, snapshot):
    add_sessions("A", 2, snapshot)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(CHANGELIST).status_code == 200
    add_sessions("B", 30, snapshot)
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(CHANGELIST)
    assert response.context["cl"].result_count == 64
    assert len(many) == len(few), [q["sql"][:100] for q in many.captured_queries]


def test_running_sessions_on_offline_charge_points_are_listed(admin_client, snapshot):
    running = add_sessions("C", 4, snapshot)
    response = admin_client.get(CHANGELIST, {"status__exact": "running", "cp_online": "no"})
    listed = {t.pk for t in response.context["cl"].result_list}
    assert listed == {t.pk for t in running if not t.charge_point.is_online}
    assert len(listed) == 2


def test_duration_text():
    assert duration_text(59) == "0:00:59"
    assert duration_text(26 * 3600 + 61) == "26:01:01"

"""Console lists of sessions, commands and charge points: their queries do not grow with rows.

A list that runs a query per row is fine on 50 rows and a minute on a page
of 100 at network scale; these tests catch such a column (or filter) before
the benchmark does (bench/scenarios/console.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from billing.models import Invoice
from ocpp_consumer.models import Command, CommandStatus
from stations.choices import SessionStatus
from stations.models import ChargePoint, Connector, MeterValue, Transaction

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
QUERY_CEILING = 40  # whatever the page shows: permissions, filters, the rows, the count


@pytest.fixture
def client(django_user_model):
    user = django_user_model.objects.create_superuser(
        username="lists", password="pw-lists-123456", email="lists@example.invalid"
    )
    client = Client()
    client.force_login(user)
    return client


def sessions(count: int, offset: int) -> None:
    """`count` sessions on their own charge points: ended and invoiced, or running with readings."""
    for n in range(offset, offset + count):
        charge_point = ChargePoint.objects.create(charge_point_id=f"CP-{n:03d}")
        connector = Connector.objects.create(charge_point=charge_point, connector_id=1)
        start = START + timedelta(hours=n)
        running = n % 3 == 0
        session = Transaction.objects.create(
            charge_point=charge_point,
            connector=connector,
            id_tag=f"TAG{n}",
            meter_start=1000,
            start_timestamp=start,
            status=SessionStatus.RUNNING if running else SessionStatus.ENDED,
            stop_timestamp=None if running else start + timedelta(hours=1),
            meter_stop=None if running else 9000,
            energy_wh=None if running else 8000,
            tariff_snapshot={
                "id": 1,
                "name": "Standard",
                "currency": "EUR",
                "price_per_kwh": "0.39",
            },
        )
        MeterValue.objects.create(
            charge_point=charge_point,
            connector=connector,
            transaction=session,
            timestamp=start + timedelta(minutes=15),
            value="5000",
            numeric_value=5000,
            measurand="Energy.Active.Import.Register",
            unit="Wh",
            context="Sample.Periodic",
            location="Outlet",
            format="Raw",
        )
        Command.objects.create(
            charge_point=charge_point,
            action="RemoteStartTransaction",
            payload={"idTag": f"TAG{n}"},
            status=CommandStatus.ANSWERED,
            response={"status": "Accepted"},
            outcome="Accepted",
        )
        if not running:
            Invoice.objects.create(
                number=f"2026-{n:06d}",
                transaction=session,
                tariff_snapshot=session.tariff_snapshot,
                currency="EUR",
                energy_wh=8000,
                net_total="3.12",
                vat_total="0.59",
                total="3.71",
            )


def queries(client, django_assert_max_num_queries, url: str) -> int:
    with django_assert_max_num_queries(QUERY_CEILING) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured.captured_queries)


@pytest.mark.parametrize(
    "url",
    [
        reverse("admin:stations_transaction_changelist"),
        reverse("admin:stations_transaction_changelist") + "?status__exact=running",
        reverse("admin:ocpp_consumer_command_changelist"),
        reverse("admin:ocpp_consumer_command_changelist") + "?status__exact=answered",
        reverse("admin:stations_chargepoint_changelist"),
        reverse("admin:billing_invoice_changelist"),
    ],
)
def test_a_list_costs_the_same_queries_for_6_or_30_rows(client, django_assert_max_num_queries, url):
    sessions(6, 0)
    small = queries(client, django_assert_max_num_queries, url)
    sessions(24, 6)
    assert queries(client, django_assert_max_num_queries, url) == small

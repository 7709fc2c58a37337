"""Every list of the API runs the same queries for 2 rows as for 20 (no query per row)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from api_support.testing import (
    T0,
    add_reading,
    client_for,
    make_charge_point,
    make_driver,
    make_invoice,
    make_operator,
    make_session,
)
from billing.models import Tariff
from drivers.models import IdTag
from stations.models import Station

pytestmark = pytest.mark.django_db
_numbers = itertools.count()


@pytest.fixture(autouse=True)
def no_lag(settings):
    """Cursor pages show the rows just written (no safety lag in these tests)."""
    settings.API_SYNC_SAFETY_LAG_SECONDS = 0


OPERATOR_LISTS = [
    "/api/v1/stations/",
    "/api/v1/charge-points/",
    "/api/v1/connectors/",
    "/api/v1/transactions/",
    "/api/v1/transactions/?page_mode=cursor",
    "/api/v1/transactions/?connector_id=1",
    "/api/v1/transactions/?ordering=-energy_wh",
    "/api/v1/invoices/",
    "/api/v1/invoices/?page_mode=cursor",
    "/api/v1/id-tags/",
    "/api/v1/id-tags/?page_mode=cursor",
    "/api/v1/drivers/",
    "/api/v1/tariffs/",
    "/api/v1/charge-points/?page_mode=cursor",
]
DRIVER_LISTS = [
    "/api/v1/me/transactions/",
    "/api/v1/me/transactions/?page_mode=cursor",
    "/api/v1/me/invoices/",
    "/api/v1/me/id-tags/",
    "/api/v1/transactions/",
    "/api/v1/invoices/",
    "/api/v1/charge-points/",
    "/api/v1/stations/",
]
EVERYTHING = [
    f"{app}.view_{model}"
    for app, model in [
        ("stations", "station"),
        ("stations", "chargepoint"),
        ("stations", "connector"),
        ("stations", "transaction"),
        ("billing", "invoice"),
        ("billing", "tariff"),
        ("drivers", "idtag"),
        ("drivers", "driver"),
    ]
]


def fill(rows: int, driver_user) -> None:
    """`rows` of everything the lists show: stations, charge points, sessions with readings
    and invoices (the driver's), id tags, drivers, tariffs."""
    driver = driver_user.driver
    for _row in range(rows):
        number = next(_numbers)
        station = Station.objects.create(name=f"Site {number}")
        charge_point = make_charge_point(
            f"CP-{number:02d}", station=station, connectors={1: "Available", 2: "Charging"}
        )
        tag = IdTag.objects.create(id_tag=f"TAG{number:03d}", driver=driver)
        start = T0 + timedelta(hours=number)
        ended = make_session(charge_point, tag.id_tag, energy_wh=1000 + number, start=start)
        make_invoice(ended)
        running = make_session(
            charge_point, tag.id_tag, connector_id=2, start=start + timedelta(hours=2)
        )
        add_reading(running, str(10_500 + number), minutes=5)
        make_driver(f"other{number}")
        Tariff.objects.create(name=f"Tariff {number}", currency="EUR", price_per_kwh="0.30")


def queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as context:
        answer = client.get(path)
    assert answer.status_code == 200, answer.content
    assert answer.json()["results"], path
    return len(context)


@pytest.mark.parametrize("path", OPERATOR_LISTS)
def test_operator_lists_query_the_same_for_2_and_20_rows(path):
    driver = make_driver("owner")
    client = client_for(make_operator(*EVERYTHING))
    fill(2, driver)
    few = queries(client, path)
    fill(18, driver)
    assert queries(client, path) == few


@pytest.mark.parametrize("path", DRIVER_LISTS)
def test_driver_lists_query_the_same_for_2_and_20_rows(path):
    driver = make_driver("owner")
    client = client_for(driver)
    fill(2, driver)
    few = queries(client, path)
    fill(18, driver)
    assert queries(client, path) == few

"""Every transaction names its invoice and the prices fixed at its start, without a query per row."""

import pytest

from api_support.testing import (
    T0,
    client_for,
    make_charge_point,
    make_driver,
    make_invoice,
    make_session,
)

pytestmark = pytest.mark.django_db

SNAPSHOT = {
    "id": 3,
    "name": "Night saver",
    "currency": "EUR",
    "price_per_kwh": "0.3900",
    "vat_rate": "21.00",
    "periods": [
        {
            "start": "22:00:00",
            "end": "06:00:00",
            "price_per_kwh": "0.2000",
            "price_per_minute": None,
        }
    ],
}


@pytest.fixture
def charge_point():
    return make_charge_point("CP1", connectors={1: "Available"})


def test_a_driver_s_sessions_link_their_invoice_and_prices(
    charge_point, django_assert_max_num_queries
):
    driver = make_driver("lena", "LENA-1")
    billed = []
    for hour in range(8):
        session = make_session(
            charge_point,
            "LENA-1",
            start=T0.replace(hour=hour),
            energy_wh=1000 + hour,
            tariff_snapshot=SNAPSHOT,
        )
        if hour % 2:
            billed.append((session.pk, make_invoice(session).pk))
    running = make_session(
        charge_point, "LENA-1", start=T0.replace(hour=9), tariff_snapshot=SNAPSHOT
    )
    client = client_for(driver)
    # The driver's tags, then the page's keys and rows (stations.selectors.transaction_owned_q).
    with django_assert_max_num_queries(4):
        rows = client.get("/api/v1/me/transactions/", {"page_size": 100}).json()["results"]
    assert len(rows) == 9
    assert {(row["id"], row["invoice"]) for row in rows if row["invoice"]} == set(billed)
    assert all(row["tariff_snapshot"] == SNAPSHOT for row in rows)
    detail = client.get(f"/api/v1/transactions/{running.pk}/").json()
    assert (detail["invoice"], detail["tariff_snapshot"]) == (None, SNAPSHOT)
    # The invoice the session names is one the driver may open.
    session_pk, invoice_pk = billed[0]
    assert client.get(f"/api/v1/transactions/{session_pk}/").json()["invoice"] == invoice_pk
    assert client.get(f"/api/v1/invoices/{invoice_pk}/").status_code == 200


def test_a_session_without_prices_says_so(charge_point):
    driver = make_driver("max", "MAX-1")
    session = make_session(charge_point, "MAX-1", energy_wh=500)
    body = client_for(driver).get(f"/api/v1/transactions/{session.pk}/").json()
    assert (body["invoice"], body["tariff_snapshot"]) == (None, None)

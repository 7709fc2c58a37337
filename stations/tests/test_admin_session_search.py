"""The console finds sessions and invoices by what an operator holds: exact ids, any case."""

import pytest
from django.urls import reverse

from api_support.testing import make_charge_point, make_invoice, make_session

pytestmark = pytest.mark.django_db

SESSIONS = reverse("admin:stations_transaction_changelist")
INVOICES = reverse("admin:billing_invoice_changelist")


@pytest.fixture
def sessions():
    north = make_charge_point("CP-NORTH", connectors={1: "Available", 2: "Available"})
    south = make_charge_point("CP-SOUTH", connectors={1: "Available"})
    return {
        "north": make_session(north, "TAG-ANNA", connector_id=1, energy_wh=1000),
        "north2": make_session(north, "TAG-BEN", connector_id=2, energy_wh=2000),
        "south": make_session(south, "TAG-ANNA", connector_id=1, energy_wh=3000),
    }


def found(admin_client, url, term):
    response = admin_client.get(url, {"q": term})
    assert response.status_code == 200
    return {row.pk for row in response.context["cl"].result_list}


def test_a_session_is_found_by_its_id_its_tag_or_its_charge_point_in_any_case(
    admin_client, sessions
):
    assert found(admin_client, SESSIONS, str(sessions["north2"].pk)) == {sessions["north2"].pk}
    assert found(admin_client, SESSIONS, "tag-anna") == {
        sessions["north"].pk,
        sessions["south"].pk,
    }
    assert found(admin_client, SESSIONS, " cp-north ") == {
        sessions["north"].pk,
        sessions["north2"].pk,
    }


def test_a_fragment_finds_nothing_rather_than_reading_every_session(admin_client, sessions):
    assert found(admin_client, SESSIONS, "ANN") == set()
    assert found(admin_client, SESSIONS, "NORTH") == set()


def test_an_invoice_is_found_by_its_number_or_its_session(admin_client, sessions):
    invoices = {name: make_invoice(session) for name, session in sessions.items()}
    assert found(admin_client, INVOICES, invoices["south"].number) == {invoices["south"].pk}
    assert found(admin_client, INVOICES, "Tag-Ben") == {invoices["north2"].pk}
    assert found(admin_client, INVOICES, "CP-SOUTH") == {invoices["south"].pk}
    assert found(admin_client, INVOICES, str(sessions["north"].pk)) == {invoices["north"].pk}

"""The charge point list's `connector_status` filter: each charge point once, in list order."""

import pytest

from api_support.testing import client_for, make_charge_point, make_operator

pytestmark = pytest.mark.django_db

URL = "/api/v1/charge-points/"


@pytest.fixture
def operator_client():
    make_charge_point("CP-A", connectors={1: "Available", 2: "Available"})
    make_charge_point("CP-B", connectors={1: "Faulted", 2: "Available"})
    make_charge_point("CP-C", connectors={1: "Faulted"})
    return client_for(make_operator("stations.view_chargepoint"))


@pytest.mark.parametrize(
    ("status", "expected"),
    [("Available", ["CP-A", "CP-B"]), ("Faulted", ["CP-B", "CP-C"]), ("Charging", [])],
)
def test_a_charge_point_with_a_connector_in_the_status_is_listed_once(
    operator_client, status, expected
):
    body = operator_client.get(f"{URL}?connector_status={status}").json()
    assert [row["charge_point_id"] for row in body["results"]] == expected
    assert body["count"] == len(expected)


def test_the_list_order_still_applies(operator_client):
    body = operator_client.get(f"{URL}?connector_status=Faulted&ordering=-charge_point_id").json()
    assert [row["charge_point_id"] for row in body["results"]] == ["CP-C", "CP-B"]


def test_an_unknown_status_is_a_400_naming_the_parameter(operator_client):
    response = operator_client.get(f"{URL}?connector_status=Sleeping")
    assert response.status_code == 400
    assert "connector_status" in response.json()

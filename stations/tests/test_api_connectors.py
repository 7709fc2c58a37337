"""The connectors collection: live status for operators and apps, read-only."""

import pytest

from api_support.testing import client_for, make_charge_point, make_driver, make_operator

pytestmark = pytest.mark.django_db

URL = "/api/v1/connectors/"


@pytest.fixture
def network():
    make_charge_point("CP-A", is_online=True, connectors={1: "Available", 2: "Charging"})
    make_charge_point("CP-B", connectors={1: "Faulted"})


def test_operator_lists_every_connector_with_its_charge_point(network):
    body = client_for(make_operator("stations.view_connector")).get(URL).json()
    assert body["count"] == 3
    rows = [
        (r["charge_point"], r["connector_id"], r["status"], r["is_online"]) for r in body["results"]
    ]
    assert rows == [
        ("CP-A", 1, "Available", True),
        ("CP-A", 2, "Charging", True),
        ("CP-B", 1, "Faulted", False),
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("charge_point=CP-B", ["CP-B/1"]),
        ("status=Charging", ["CP-A/2"]),
        ("online=true", ["CP-A/1", "CP-A/2"]),
    ],
)
def test_filters(network, query, expected):
    body = client_for(make_operator("stations.view_connector")).get(f"{URL}?{query}").json()
    assert [f"{r['charge_point']}/{r['connector_id']}" for r in body["results"]] == expected


def test_drivers_read_but_cannot_write(network):
    client = client_for(make_driver("app-user", "TAG-9"))
    assert client.get(URL).json()["count"] == 3
    first = client.get(URL).json()["results"][0]["id"]
    assert client.patch(f"{URL}{first}/", {"status": "Available"}).status_code == 405
    assert client.post(URL, {}).status_code == 405


def test_anonymous_and_staff_without_permission_are_refused(network):
    assert client_for().get(URL).status_code == 401
    assert client_for(make_operator()).get(URL).status_code == 403


def test_unknown_connector_is_404():
    assert client_for(make_operator("stations.view_connector")).get(f"{URL}999/").status_code == 404


def test_query_count_does_not_grow_with_rows(django_assert_max_num_queries):
    client = client_for(make_operator("stations.view_connector"))
    for n in range(12):
        make_charge_point(f"CP-{n}", connectors={1: "Available", 2: "Available"})
    with django_assert_max_num_queries(6):
        assert client.get(URL).json()["count"] == 24

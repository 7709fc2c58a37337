"""A filter or ordering value that cannot be applied is a 400 naming it, on every list."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from api_support.testing import client_for, make_charge_point, make_driver, make_session
from stations.models import Station

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_counters():
    """Counters live in the process's cache: leave none to the next tests (anon shares one)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def operator_client():
    from api_support.testing import make_operator

    return client_for(make_operator(superuser=True))


@pytest.fixture
def sessions():
    make_driver("alice", "TAG1")
    charge_point = make_charge_point("CP1", connectors={1: "Charging", 2: "Available"})
    running = make_session(charge_point, "TAG1", connector_id=1)
    ended = make_session(charge_point, "TAG1", connector_id=2, energy_wh=1000)
    return running, ended


@pytest.mark.parametrize(
    "path, query, field",
    [
        ("/api/v1/transactions/", {"is_open": "maybe"}, "is_open"),
        ("/api/v1/transactions/", {"ordering": "bogus"}, "ordering"),
        ("/api/v1/transactions/", {"connector_id": "one"}, "connector_id"),
        ("/api/v1/stations/", {"ordering": "-name,secret"}, "ordering"),
        ("/api/v1/charge-points/", {"is_online": "perhaps"}, "is_online"),
        ("/api/v1/id-tags/", {"status": "Sometimes"}, "status"),
        ("/api/v1/id-tags/", {"expires_before": "next tuesday"}, "expires_before"),
        ("/api/v1/drivers/", {"is_active": "2"}, "is_active"),
        ("/api/v1/invoices/", {"ordering": "password"}, "ordering"),
        ("/api/v1/tariffs/", {"page_size": "lots"}, "page_size"),
        ("/api/v1/me/id-tags/", {"ordering": "status"}, "ordering"),
    ],
)
def test_an_invalid_value_is_a_400_naming_the_field(operator_client, path, query, field):
    response = operator_client.get(path, query)
    assert response.status_code == 400, (path, response.status_code)
    body = response.json()
    assert list(body) == [field]
    assert all(isinstance(message, str) and message for message in body[field])


def test_ordering_lists_the_allowed_fields(operator_client):
    body = operator_client.get("/api/v1/stations/", {"ordering": "bogus"}).json()
    [message] = body["ordering"]
    assert "'bogus'" in message
    for allowed in ("name", "city", "country", "created_at"):
        assert allowed in message


def test_booleans_as_clients_write_them(operator_client, sessions):
    running, ended = sessions
    for value, expected in (("true", running), ("True", running), ("1", running), ("0", ended)):
        body = operator_client.get("/api/v1/transactions/", {"is_open": value}).json()
        assert [row["id"] for row in body["results"]] == [expected.pk], value


def test_valid_filters_and_orderings_still_work(operator_client):
    Station.objects.bulk_create(Station(name=name) for name in ("B", "A", "C"))
    names = [
        row["name"]
        for row in operator_client.get("/api/v1/stations/", {"ordering": "-name"}).json()["results"]
    ]
    assert names == ["C", "B", "A"]
    both = operator_client.get("/api/v1/stations/", {"ordering": "name,-created_at"})
    assert both.status_code == 200
    assert operator_client.get("/api/v1/stations/", {"ordering": ""}).status_code == 200
    assert operator_client.get("/api/v1/stations/", {"is_open": "x"}).status_code == 200


def test_page_size_above_the_maximum_is_capped_not_refused(operator_client):
    response = operator_client.get("/api/v1/stations/", {"page_size": "100000"})
    assert response.status_code == 200
    assert operator_client.get("/api/v1/stations/", {"page_size": "0"}).status_code == 400


def test_the_schema_lists_the_allowed_orderings(operator_client):
    schema = operator_client.get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    ).json()
    parameters = schema["paths"]["/api/v1/stations/"]["get"]["parameters"]
    [ordering] = [p for p in parameters if p["name"] == "ordering"]
    assert ordering["schema"]["items"]["enum"] == [
        "name",
        "-name",
        "city",
        "-city",
        "country",
        "-country",
        "created_at",
        "-created_at",
    ]
    assert ordering["explode"] is False

"""The charge point list: connector status badges, and filters by status and connection."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from api_support.testing import make_charge_point
from stations.choices import ConnectorStatus
from stations.models import Connector

pytestmark = pytest.mark.django_db

LIST = reverse("admin:stations_chargepoint_changelist")


def listed(response) -> list[str]:
    """The charge point ids in the list, in page order."""
    return [cp.charge_point_id for cp in response.context["cl"].result_list]


@pytest.fixture
def network():
    make_charge_point("CP-OK", is_online=True, connectors={0: "Available", 1: "Charging"})
    make_charge_point("CP-FAULT", connectors={1: "Available", 2: "Faulted"})
    make_charge_point("CP-DOWN", is_online=True, connectors={0: "Unavailable", 1: "Available"})
    make_charge_point("CP-V201", connectors={1: "Unavailable"})  # an EVSE's derived status


def test_connector_status_column_shows_badges(admin_client, network):
    html = admin_client.get(LIST).content.decode()
    row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*CP-FAULT(?:(?!</tr>).)*</tr>", html, re.S).group(0)
    assert 'data-status="Faulted"' in row
    assert 'class="badge status-faulted"' in row
    assert "#2 Faulted" in row
    ok_row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*CP-OK(?:(?!</tr>).)*</tr>", html, re.S).group(0)
    # Connector 0 Available says nothing about the plugs: not shown.
    assert 'data-connector="0"' not in ok_row
    assert 'data-status="Charging"' in ok_row


def test_badges_cost_no_query_per_row(admin_client, network):
    with CaptureQueriesContext(connection) as few:
        admin_client.get(LIST)
    for number in range(10):
        make_charge_point(f"CP-MORE-{number}", connectors={1: "Available", 2: "Charging"})
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(LIST)
    assert len(listed(response)) == 14
    assert len(many.captured_queries) == len(few.captured_queries)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("Faulted", ["CP-FAULT"]),
        ("Charging", ["CP-OK"]),
        # Connector 0 Unavailable: the whole charge point is.
        ("Unavailable", ["CP-DOWN", "CP-V201"]),
        # Connector 0 Available does not make CP-OK's busy plug free.
        ("Available", ["CP-DOWN", "CP-FAULT"]),
        ("Reserved", []),
    ],
)
def test_connector_status_filter(admin_client, network, status, expected):
    response = admin_client.get(LIST, {"connector_status": status})
    assert response.status_code == 200
    assert sorted(listed(response)) == expected


def test_connector_status_filter_offers_every_ocpp_status(admin_client, network):
    html = admin_client.get(LIST).content.decode()
    for status in ConnectorStatus.values:
        assert f"?connector_status={status}" in html, status


def test_unknown_status_lists_nothing(admin_client, network):
    response = admin_client.get(LIST, {"connector_status": "Exploded"})
    assert response.status_code == 200
    assert listed(response) == []


def test_a_charge_point_with_two_faulted_connectors_is_listed_once(admin_client, network):
    Connector.objects.filter(charge_point__charge_point_id="CP-FAULT").update(status="Faulted")
    response = admin_client.get(LIST, {"connector_status": "Faulted"})
    assert listed(response) == ["CP-FAULT"]


def test_connection_filter(admin_client, network):
    online = admin_client.get(LIST, {"is_online__exact": "1"})
    assert sorted(listed(online)) == ["CP-DOWN", "CP-OK"]
    offline = admin_client.get(LIST, {"is_online__exact": "0"})
    assert sorted(listed(offline)) == ["CP-FAULT", "CP-V201"]
    html = online.content.decode()
    assert "By connection" in html
    assert ">Offline</a>" in html


def test_filters_combine(admin_client, network):
    response = admin_client.get(LIST, {"connector_status": "Unavailable", "is_online__exact": "1"})
    assert listed(response) == ["CP-DOWN"]

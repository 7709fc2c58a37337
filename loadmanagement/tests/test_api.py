"""The contract's load management endpoints: grid_limit_w on stations, and the allocation."""

from datetime import timedelta

import pytest
from django.utils import timezone

from api_support.testing import (
    client_for,
    make_charge_point,
    make_driver,
    make_operator,
    make_session,
)
from loadmanagement.models import LimitScheduleEntry, SiteLimit
from stations.models import Station

pytestmark = pytest.mark.django_db


@pytest.fixture
def station():
    station = Station.objects.create(name="Office", publish=True)
    cp = make_charge_point(
        "API-1", station=station, is_online=True, connectors={1: "Charging", 2: "Charging"}
    )
    cp.connectors.update(max_power_w=11_040)
    return station


def url(station, tail=""):
    return f"/api/v1/stations/{station.pk}/{tail}"


def operator():
    return make_operator(
        "stations.view_station",
        "stations.change_station",
        "loadmanagement.view_sitelimit",
        "loadmanagement.change_sitelimit",
    )


def test_an_operator_sets_and_clears_the_grid_limit_on_the_station(station):
    client = client_for(operator())
    response = client.patch(url(station), {"grid_limit_w": 20_000}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["grid_limit_w"] == 20_000
    assert SiteLimit.objects.get(station=station).grid_limit_w == 20_000
    assert client.get(url(station)).json()["grid_limit_w"] == 20_000
    response = client.patch(url(station), {"grid_limit_w": None}, format="json")
    assert response.json()["grid_limit_w"] is None
    assert SiteLimit.objects.get(station=station).grid_limit_w is None


def test_a_bad_grid_limit_is_a_400_naming_the_field(station):
    response = client_for(operator()).patch(url(station), {"grid_limit_w": -5}, format="json")
    assert response.status_code == 400
    assert "grid_limit_w" in response.json()
    assert not SiteLimit.objects.exists()


def test_a_driver_can_neither_set_nor_see_the_grid_limit(station):
    client = client_for(make_driver())
    assert client.patch(url(station), {"grid_limit_w": 1}, format="json").status_code == 403
    assert "grid_limit_w" not in client.get(url(station)).json()
    assert (
        client.put(url(station, "limit-schedule/"), {"entries": []}, format="json").status_code
        == 403
    )
    assert (
        client.patch(
            url(station, "load-management/"), {"min_current_a": "8"}, format="json"
        ).status_code
        == 403
    )


def test_the_allocation_has_the_contracts_shape_and_drivers_see_only_their_own(station):
    alice = make_driver("alice", "ALICE")
    make_driver("bob", "BOB")
    cp = station.charge_points.get()
    start = timezone.now() - timedelta(minutes=10)
    mine = make_session(cp, "ALICE", connector_id=1, start=start)
    theirs = make_session(cp, "BOB", connector_id=2, start=start + timedelta(minutes=1))
    client_for(operator()).patch(url(station), {"grid_limit_w": 16_000}, format="json")

    answer = client_for(operator()).get(url(station, "allocation/")).json()
    assert set(answer) == {"grid_limit_w", "allocated_w", "measured_w", "sessions"}
    assert answer["grid_limit_w"] == 16_000
    assert answer["measured_w"] is None
    by_tx = {entry["transaction"]: entry for entry in answer["sessions"]}
    assert set(by_tx) == {mine.pk, theirs.pk}
    assert {"transaction", "allocated_w", "measured_w"} <= set(by_tx[mine.pk])
    assert answer["allocated_w"] == sum(entry["allocated_w"] for entry in answer["sessions"])
    assert answer["allocated_w"] <= 16_000 * 0.95

    own = client_for(alice).get(url(station, "allocation/")).json()
    assert [entry["transaction"] for entry in own["sessions"]] == [mine.pk]
    assert own["allocated_w"] == by_tx[mine.pk]["allocated_w"]


def test_the_allocation_of_an_unmanaged_station_is_empty_and_anonymous_gets_401(station):
    assert client_for(operator()).get(url(station, "allocation/")).json() == {
        "grid_limit_w": None,
        "allocated_w": 0,
        "measured_w": None,
        "sessions": [],
    }
    assert client_for().get(url(station, "allocation/")).status_code == 401


def test_an_ems_replaces_the_schedule_and_bad_entries_name_the_field(station):
    client = client_for(operator())
    now = timezone.now()
    body = {
        "source": "ems",
        "entries": [
            {
                "starts_at": now.isoformat(),
                "ends_at": (now + timedelta(hours=2)).isoformat(),
                "limit_w": 7_000,
            }
        ],
    }
    response = client.put(url(station, "limit-schedule/"), body, format="json")
    assert response.status_code == 200, response.json()
    assert LimitScheduleEntry.objects.get().source == "ems"
    assert client.get(url(station, "allocation/")).json()["grid_limit_w"] == 7_000
    body["entries"][0]["ends_at"] = (now - timedelta(hours=1)).isoformat()
    response = client.put(url(station, "limit-schedule/"), body, format="json")
    assert response.status_code == 400
    assert response.json() == {"entries": {"0": {"ends_at": ["Must be after starts_at."]}}}
    assert LimitScheduleEntry.objects.count() == 1  # the refused plan changed nothing


def test_site_settings_are_patched_by_operators(station):
    client = client_for(operator())
    response = client.patch(
        url(station, "load-management/"),
        {"phase_current_limit_a": 40, "min_current_a": "7.5"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    site = SiteLimit.objects.get(station=station)
    assert site.phase_current_limit_a == 40 and str(site.min_current_a) == "7.5"
    response = client.patch(
        url(station, "load-management/"), {"safety_margin_percent": "80"}, format="json"
    )
    assert response.status_code == 400 and "safety_margin_percent" in response.json()


def test_the_openapi_schema_documents_the_endpoints(station):
    schema = client_for(operator()).get("/api/schema/?format=json").json()
    assert "/api/v1/stations/{id}/allocation/" in schema["paths"]
    assert "/api/v1/stations/{id}/limit-schedule/" in schema["paths"]
    station_fields = schema["components"]["schemas"]["Station"]["properties"]
    assert station_fields["grid_limit_w"]["nullable"] is True

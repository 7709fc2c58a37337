"""Time-of-use end to end through the services and the API: signal, departure, waiting, charging."""

from datetime import timedelta

import pytest
from django.utils import timezone

from api_support.testing import client_for, make_charge_point, make_driver, make_session
from loadmanagement import services
from loadmanagement.engine import Reason
from loadmanagement.models import SessionAllocation, SessionFlexibility, TouSignalEntry
from loadmanagement.tests.test_api import operator, url
from stations.models import EVChargingNeeds, Station

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_start_reserve(settings):
    settings.LOADMGMT_START_RESERVE = 0


@pytest.fixture
def station():
    station = Station.objects.create(name="Depot", publish=True)
    cp = make_charge_point(
        "TOU-1", station=station, is_online=True, connectors={1: "Charging", 2: "Charging"}
    )
    cp.connectors.update(max_power_w=11_040)
    services.site_limit_set(station_id=station.pk, grid_limit_w=30_000)
    return station


def hour(offset: int):
    return timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=offset)


def night_cheap_signal(cheap_offset=3):
    """40 per kWh for the next 10 hours, 5 in one of them."""
    return [
        {
            "starts_at": hour(h).isoformat(),
            "ends_at": hour(h + 1).isoformat(),
            "value": "5" if h == cheap_offset else "40",
        }
        for h in range(0, 10)
    ]


def test_a_flexible_session_waits_in_an_expensive_hour_and_charges_in_the_cheap_one(station):
    driver = make_driver("dana", "DANA")
    cp = station.charge_points.get()
    flexible = make_session(cp, "DANA", connector_id=1, start=timezone.now() - timedelta(minutes=5))
    other = make_session(cp, "OTHER", connector_id=2, start=timezone.now() - timedelta(minutes=4))
    ops = client_for(operator())
    assert (
        ops.put(
            url(station, "tou-signal/"), {"entries": night_cheap_signal()}, format="json"
        ).status_code
        == 200
    )
    response = client_for(driver).patch(
        f"/api/v1/me/transactions/{flexible.pk}/departure/",
        {"departure_time": hour(8).isoformat(), "energy_wh": 7_000},
        format="json",
    )
    assert response.status_code == 200, response.content

    waiting = SessionAllocation.objects.get(pk=flexible.pk)
    assert (waiting.allocated_w, waiting.reason) == (0, Reason.TOU_WAITING)
    # The inflexible session keeps today's behaviour: its charger's maximum.
    assert SessionAllocation.objects.get(pk=other.pk).allocated_w == 11_040
    decision = station.site_limit.decisions.first()
    assert f"tx {flexible.pk} waiting for cheaper hour" in decision.summary
    entry = next(e for e in decision.sessions if e["transaction"] == flexible.pk)
    assert entry["tou"] == "tou_wait" and entry["tou_hours"] == [hour(3).isoformat()]

    in_cheap_hour = hour(3) + timedelta(minutes=1)
    services.site_recompute(station_id=station.pk, trigger="sweep", now=in_cheap_hour)
    charging = SessionAllocation.objects.get(pk=flexible.pk)
    assert charging.allocated_w >= 7_000 and charging.reason != Reason.TOU_WAITING
    assert charging.allocated_w + SessionAllocation.objects.get(pk=other.pk).allocated_w <= 30_000


def test_an_unreachable_departure_charges_as_without_time_of_use(station):
    make_driver("dana", "DANA")
    cp = station.charge_points.get()
    session = make_session(cp, "DANA", connector_id=1, start=timezone.now())
    services.tou_signal_replace(
        station_id=station.pk,
        items=[services.SignalItem(hour(0), hour(1), 40), services.SignalItem(hour(1), hour(5), 1)],
    )
    # 11 kW for at most ~2 hours cannot give 60 kWh: no waiting.
    services.flexibility_set(transaction_id=session.pk, departure_at=hour(2), energy_wh=60_000)
    row = SessionAllocation.objects.get(pk=session.pk)
    assert row.allocated_w == 11_040 and row.reason != Reason.TOU_WAITING


def test_ev_charging_needs_make_a_2_0_1_session_flexible(station):
    cp = station.charge_points.get()
    session = make_session(cp, "EV", connector_id=1, start=timezone.now())
    EVChargingNeeds.objects.create(
        charge_point=cp,
        connector_id=1,
        transaction=session,
        requested_energy_transfer="AC_three_phase",
        departure_time=hour(8),
        needs={"acChargingParameters": {"energyAmount": 5000, "evMinCurrent": 6}},
    )
    services.tou_signal_replace(
        station_id=station.pk,
        items=[services.SignalItem(hour(h), hour(h + 1), 5 if h == 4 else 40) for h in range(10)],
    )
    row = SessionAllocation.objects.get(pk=session.pk)
    assert (row.allocated_w, row.reason) == (0, Reason.TOU_WAITING)


def test_the_signal_api_validates_and_is_for_operators(station):
    ops = client_for(operator())
    bad = [{"starts_at": hour(2).isoformat(), "ends_at": hour(1).isoformat(), "value": "3"}]
    response = ops.put(url(station, "tou-signal/"), {"entries": bad}, format="json")
    assert response.status_code == 400 and "ends_at" in str(response.json())
    response = ops.put(
        url(station, "tou-signal/"),
        {"entries": night_cheap_signal(), "kind": "carbon"},
        format="json",
    )
    assert response.status_code == 200
    answer = ops.get(url(station, "tou-signal/")).json()
    assert answer["kind"] == "carbon" and len(answer["entries"]) == 10
    assert TouSignalEntry.objects.filter(site__station=station).count() == 10
    driver = client_for(make_driver("dana", "DANA"))
    response = driver.put(url(station, "tou-signal/"), {"entries": []}, format="json")
    assert response.status_code == 403


def test_a_driver_sets_a_departure_only_for_their_own_running_session(station):
    alice = make_driver("alice", "ALICE")
    make_driver("bob", "BOB")
    cp = station.charge_points.get()
    bobs = make_session(cp, "BOB", connector_id=2, start=timezone.now())
    mine = make_session(cp, "ALICE", connector_id=1, start=timezone.now())
    client = client_for(alice)
    body = {"departure_time": hour(5).isoformat(), "energy_wh": 10_000}
    assert (
        client.patch(
            f"/api/v1/me/transactions/{bobs.pk}/departure/", body, format="json"
        ).status_code
        == 404
    )
    past = {"departure_time": hour(-1).isoformat(), "energy_wh": 10_000}
    response = client.patch(f"/api/v1/me/transactions/{mine.pk}/departure/", past, format="json")
    assert response.status_code == 400 and "departure_time" in response.json()
    response = client.patch(
        f"/api/v1/me/transactions/{mine.pk}/departure/", {"departure_time": "x"}, format="json"
    )
    assert response.status_code == 400 and "energy_wh" in response.json()
    assert not SessionFlexibility.objects.exists()
    assert (
        client.patch(
            f"/api/v1/me/transactions/{mine.pk}/departure/", body, format="json"
        ).status_code
        == 200
    )
    assert SessionFlexibility.objects.get(pk=mine.pk).energy_wh == 10_000

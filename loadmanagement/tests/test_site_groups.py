"""Sites of several stations behind one grid connection, and clearing what we installed."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from api_support.testing import client_for, make_charge_point, make_operator, make_session
from loadmanagement import dispatch, services
from loadmanagement.models import (
    ChargerFallback,
    ChargerMaxProfile,
    ClearState,
    ConnectorPhase,
    ProfileClearance,
    SendState,
    SessionAllocation,
    SiteLimit,
    SiteStation,
)
from loadmanagement.selectors import site_limit_get
from stations.models import Station

pytestmark = pytest.mark.django_db

KW11 = 11_040
BASE = 70_000  # LOADMGMT_PROFILE_ID_BASE


@pytest.fixture(autouse=True)
def _no_start_reserve(settings):
    settings.LOADMGMT_START_RESERVE = 0


def station_with_charger(name: str, cp_name: str, connectors: int = 1) -> Station:
    station = Station.objects.create(name=name, publish=True)
    cp = make_charge_point(
        cp_name,
        station=station,
        is_online=True,
        connectors={n: "Charging" for n in range(1, connectors + 1)},
    )
    cp.connectors.update(max_power_w=KW11)
    return station


def start(station: Station, connector: int = 1, minutes: int = 0):
    cp = station.charge_points.get()
    return make_session(
        cp,
        f"T-{cp.charge_point_id}-{connector}",
        connector_id=connector,
        start=timezone.now() - timedelta(hours=1) + timedelta(minutes=minutes),
    )


@pytest.fixture
def depot():
    return station_with_charger("Depot", "G-1")


@pytest.fixture
def annex():
    return station_with_charger("Annex", "G-2")


def test_a_site_shares_its_limit_among_the_sessions_of_all_its_stations(depot, annex):
    services.site_limit_set(station_id=depot.pk, grid_limit_w=12_000, safety_margin_percent=0)
    services.site_stations_set(station_id=depot.pk, station_ids=[depot.pk, annex.pk])
    first, second = start(depot), start(annex, minutes=1)
    # A session at the annex reaches its site through the membership.
    services.site_recompute(station_id=annex.pk, trigger=services.Trigger.SESSION_STARTED)

    rows = {row.transaction_id: row for row in SessionAllocation.objects.all()}
    assert set(rows) == {first.pk, second.pk}
    assert rows[first.pk].allocated_w + rows[second.pk].allocated_w <= 12_000
    assert rows[first.pk].allocated_w == rows[second.pk].allocated_w
    site = depot.site_limit
    assert site_limit_get(station_id=annex.pk) == site
    # Each charger of the group has its fallback (the limit over both connectors) and its cap.
    assert set(ChargerFallback.objects.values_list("charge_point__charge_point_id", "limit_w")) == {
        ("G-1", 6_000),
        ("G-2", 6_000),
    }
    assert set(
        ChargerMaxProfile.objects.values_list("charge_point__charge_point_id", "limit_w")
    ) == {
        ("G-1", KW11),
        ("G-2", KW11),
    }
    # The dispatcher of either station sends the profiles of the whole site.
    jobs, _ = dispatch._due(annex.pk)
    assert {job.charge_point_id for job in jobs} == {"G-1", "G-2"}


def test_a_station_belongs_to_one_site_only(depot, annex):
    other = station_with_charger("Other", "G-3")
    services.site_limit_set(station_id=depot.pk, grid_limit_w=12_000)
    services.site_stations_set(station_id=depot.pk, station_ids=[depot.pk, annex.pk])
    services.site_limit_set(station_id=other.pk, grid_limit_w=5_000)
    with pytest.raises(ValidationError) as error:
        services.site_stations_set(station_id=other.pk, station_ids=[other.pk, annex.pk])
    assert "stations" in error.value.message_dict
    # A station with a site of its own cannot join another either.
    with pytest.raises(ValidationError) as error:
        services.site_stations_set(station_id=depot.pk, station_ids=[depot.pk, other.pk])
    assert "stations" in error.value.message_dict
    # Setting a limit from a member station changes its group's site, not a new one.
    services.site_limit_set(station_id=annex.pk, grid_limit_w=15_000)
    assert SiteLimit.objects.count() == 2
    assert SiteLimit.objects.get(station=depot).grid_limit_w == 15_000


def test_every_site_has_its_own_station_as_a_member(depot):
    site = services.site_limit_set(station_id=depot.pk, grid_limit_w=9_000)
    assert list(SiteStation.objects.values_list("site_id", "station_id")) == [(site.pk, depot.pk)]
    with pytest.raises(ValidationError) as error:
        services.site_stations_set(station_id=depot.pk, station_ids=[])
    assert "stations" in error.value.message_dict


def sent_everything():
    """As if the chargers had taken every profile."""
    now = timezone.now()
    for model in (SessionAllocation, ChargerFallback, ChargerMaxProfile):
        model.objects.update(state=SendState.ACCEPTED, sent_at=now)


def test_a_station_that_leaves_has_our_profiles_cleared_and_is_no_longer_managed(depot, annex):
    services.site_limit_set(station_id=depot.pk, grid_limit_w=12_000)
    services.site_stations_set(station_id=depot.pk, station_ids=[depot.pk, annex.pk])
    start(depot)
    leaving = start(annex, minutes=1)
    services.site_recompute(station_id=depot.pk, trigger=services.Trigger.SESSION_STARTED)
    sent_everything()

    services.site_stations_set(station_id=depot.pk, station_ids=[depot.pk])
    clearance = ProfileClearance.objects.get()
    assert clearance.charge_point.charge_point_id == "G-2"
    assert clearance.reason == services.ClearReason.STATION_LEFT
    # Its maximum profile, its fallback, and the TxProfile of connector 1.
    assert clearance.profile_ids == [BASE - 1, BASE, BASE + 1]
    assert not SessionAllocation.objects.filter(transaction=leaving).exists()
    assert not ChargerFallback.objects.filter(charge_point__charge_point_id="G-2").exists()
    assert site_limit_get(station_id=annex.pk) is None


def test_switching_a_site_off_clears_its_profiles_and_on_again_sends_them_afresh(depot):
    services.site_limit_set(station_id=depot.pk, grid_limit_w=12_000)
    start(depot)
    services.site_recompute(station_id=depot.pk, trigger=services.Trigger.SESSION_STARTED)
    sent_everything()

    services.site_limit_set(station_id=depot.pk, enabled=False)
    clearance = ProfileClearance.objects.get()
    assert clearance.reason == services.ClearReason.SITE_DISABLED
    assert clearance.profile_ids == [BASE - 1, BASE, BASE + 1]
    assert not SessionAllocation.objects.exists() and not ChargerMaxProfile.objects.exists()
    decision = depot.site_limit.decisions.order_by("-created_at", "-id").first()
    assert decision.summary == "site not managed: no profiles sent"

    # On again before the clearance went out: it is dropped, the profiles are sent anew.
    services.site_limit_set(station_id=depot.pk, enabled=True)
    assert not ProfileClearance.objects.exists()
    assert SessionAllocation.objects.get().state == SendState.PENDING
    assert ChargerMaxProfile.objects.get().state == SendState.PENDING


def test_deleting_a_site_clears_its_profiles_first(depot):
    site = services.site_limit_set(station_id=depot.pk, grid_limit_w=12_000)
    sent_everything()
    assert services.site_delete(site_id=site.pk)
    assert not SiteLimit.objects.exists()
    clearance = ProfileClearance.objects.get()
    assert clearance.site_name == "Depot"
    assert clearance.profile_ids == [BASE - 1, BASE]  # no session: the cap and the fallback


def test_removing_the_limit_clears_the_chargers_caps_and_fallbacks(depot):
    services.site_limit_set(station_id=depot.pk, grid_limit_w=12_000)
    sent_everything()
    services.site_limit_set(station_id=depot.pk, grid_limit_w=None)
    clearances = ProfileClearance.objects.all()
    assert {c.reason for c in clearances} == {services.ClearReason.NO_LIMIT}
    assert sorted(pk for c in clearances for pk in c.profile_ids) == [BASE - 1, BASE]
    # The charger is offline: the clearances wait for it through the next rounds.
    services.site_recompute(station_id=depot.pk, trigger="test")
    assert sorted(pk for c in ProfileClearance.objects.all() for pk in c.profile_ids) == [
        BASE - 1,
        BASE,
    ]


def test_a_limit_set_again_is_not_cleared_by_a_clearance_still_waiting(depot):
    services.site_limit_set(station_id=depot.pk, grid_limit_w=12_000)
    sent_everything()
    services.site_limit_set(station_id=depot.pk, grid_limit_w=None)
    assert ProfileClearance.objects.exists()
    services.site_limit_set(station_id=depot.pk, grid_limit_w=9_000)
    # Both profiles are installed again: clearing them afterwards would lift the new limit.
    assert not ProfileClearance.objects.exists()


def test_a_clearance_for_an_offline_charger_waits_for_it(depot):
    site = services.site_limit_set(station_id=depot.pk, grid_limit_w=12_000)
    sent_everything()
    services.site_delete(site_id=site.pk)
    depot.charge_points.update(is_online=False)
    assert dispatch.clearances_dispatch_sync() == 1
    clearance = ProfileClearance.objects.get()
    assert clearance.state == ClearState.NO_ANSWER and clearance.sent_at is not None
    assert set(clearance.answers) == {str(BASE - 1), str(BASE)}
    # Not asked again at once; on reconnecting it is.
    assert dispatch.clearances_dispatch_sync() == 0
    services.charger_reconnected(charge_point_pk=clearance.charge_point_id)
    assert ProfileClearance.objects.get().state == ClearState.PENDING


def test_a_one_phase_connector_on_a_known_phase_counts_only_there(depot):
    cp = depot.charge_points.get()
    cp.connectors.update(power_type="AC_1_PHASE", max_power_w=7_360)
    for n in (2, 3):
        cp.connectors.create(connector_id=n, status="Charging", power_type="AC_1_PHASE")
    cp.connectors.update(max_power_w=7_360)
    # 16 A per phase: three one-phase sessions of at least 6 A on unknown phases are all
    # counted on every phase, so only two fit.
    services.site_limit_set(station_id=depot.pk, phase_current_limit_a=16, safety_margin_percent=0)
    sessions = [start(depot, n, minutes=n) for n in (1, 2, 3)]
    services.site_recompute(station_id=depot.pk, trigger=services.Trigger.SESSION_STARTED)
    rows = {row.transaction_id: row for row in SessionAllocation.objects.all()}
    assert rows[sessions[2].pk].reason == "waiting"
    # Wired to L1, L2 and L3: each has its phase to itself, 16 A each.
    for connector, phase in zip(cp.connectors.order_by("connector_id"), (1, 2, 3), strict=True):
        ConnectorPhase.objects.create(connector=connector, phase=phase)
    services.site_recompute(station_id=depot.pk, trigger=services.Trigger.LIMIT_CHANGED)
    rows = {row.transaction_id: row for row in SessionAllocation.objects.all()}
    assert [rows[s.pk].current_a for s in sessions] == [16, 16, 16]
    # The charger's cap: 16 A on each phase.
    cap = ChargerMaxProfile.objects.get()
    assert (cap.current_a, cap.phases, cap.limit_w) == (16, 3, 11_040)


def operator():
    return make_operator(
        "stations.view_station",
        "loadmanagement.view_sitelimit",
        "loadmanagement.change_sitelimit",
    )


def url(station, tail="load-management/"):
    return f"/api/v1/stations/{station.pk}/{tail}"


def test_the_api_exposes_and_sets_the_stations_of_a_site(depot, annex):
    client = client_for(operator())
    response = client.patch(url(depot), {"grid_limit_w": 12_000}, format="json")
    assert response.json()["stations"] == [depot.pk]
    response = client.patch(url(depot), {"stations": [depot.pk, annex.pk]}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["stations"] == [depot.pk, annex.pk]
    # Read from the annex: the same site, its own station first.
    body = client.get(url(annex)).json()
    assert (body["station"], body["stations"], body["grid_limit_w"]) == (
        depot.pk,
        [depot.pk, annex.pk],
        12_000,
    )
    start(depot), start(annex, minutes=1)
    services.site_recompute(station_id=depot.pk, trigger=services.Trigger.SESSION_STARTED)
    allocation = client.get(url(annex, "allocation/")).json()
    assert {entry["charge_point"] for entry in allocation["sessions"]} == {"G-1", "G-2"}


def test_adding_a_station_of_another_site_is_a_400_naming_the_field(depot, annex):
    client = client_for(operator())
    client.patch(url(annex), {"grid_limit_w": 5_000}, format="json")
    response = client.patch(
        url(depot), {"grid_limit_w": 12_000, "stations": [depot.pk, annex.pk]}, format="json"
    )
    assert response.status_code == 400
    assert "stations" in response.json()
    assert not SiteLimit.objects.filter(station=depot).exists()  # nothing half-done
    response = client.patch(url(depot), {"stations": [depot.pk, 999_999]}, format="json")
    assert response.status_code == 400 and "stations" in response.json()


def test_deleting_a_site_through_the_api_clears_its_profiles(depot):
    client = client_for(operator())
    client.patch(url(depot), {"grid_limit_w": 12_000}, format="json")
    sent_everything()
    assert client.delete(url(depot)).status_code == 403  # changing is not deleting
    client = client_for(
        make_operator("loadmanagement.view_sitelimit", "loadmanagement.delete_sitelimit")
    )
    assert client.delete(url(depot)).status_code == 204
    assert not SiteLimit.objects.exists()
    assert ProfileClearance.objects.get().reason == services.ClearReason.SITE_DELETED
    assert client.delete(url(depot)).status_code == 404


def test_a_member_station_shows_its_groups_grid_limit(depot, annex):
    client = client_for(make_operator("stations.view_station", "stations.change_station"))
    services.site_limit_set(station_id=depot.pk, grid_limit_w=12_000)
    services.site_stations_set(station_id=depot.pk, station_ids=[depot.pk, annex.pk])
    alone = Station.objects.create(name="Alone")
    assert client.get(f"/api/v1/stations/{annex.pk}/").json()["grid_limit_w"] == 12_000
    listed = {
        row["id"]: row["grid_limit_w"] for row in client.get("/api/v1/stations/").json()["results"]
    }
    assert listed[depot.pk] == listed[annex.pk] == 12_000
    assert listed[alone.pk] is None
    # Set from the annex: the group's limit changes.
    response = client.patch(f"/api/v1/stations/{annex.pk}/", {"grid_limit_w": 9_000}, format="json")
    assert response.json()["grid_limit_w"] == 9_000
    assert SiteLimit.objects.get().grid_limit_w == 9_000


def test_the_migration_makes_every_existing_site_its_stations_first_member(depot, annex):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("loadmanagement.migrations.0003_site_groups")
    # Sites as they were before groups: no membership rows (bulk_create skips save()).
    SiteLimit.objects.bulk_create([SiteLimit(station=depot), SiteLimit(station=annex)])
    assert not SiteStation.objects.exists()
    migration.own_station_first_member(apps, None)
    assert set(SiteStation.objects.values_list("site__station_id", "station_id")) == {
        (depot.pk, depot.pk),
        (annex.pk, annex.pk),
    }

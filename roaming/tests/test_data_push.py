"""Changes of our locations and tariffs reach a partner's Receiver interfaces.

End to end: the peer eMSP (roaming/tests/peer_emsp.py, written from the
specification) registers with us over HTTP, then receives our pushes on its
own server; edits are made as operators make them (the API) or as the ORM
does for the console's forms.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from api_support.testing import client_for, make_charge_point, make_operator
from billing.models import Tariff
from roaming.data_push import data_changes_push, location_calls
from roaming.models import Exchange, Party, PushedCopy
from roaming.push import evse_status_push
from roaming.tasks import push_data_changes
from stations.models import ChargePoint, Connector, Station
from stations.services.registration import chargepoint_registration_set

from .peer_emsp import PeerEmsp, call

pytestmark = pytest.mark.django_db(transaction=True)

LOCATIONS = "/ocpi/emsp/2.2.1/locations/NL/CSM"
TARIFFS = "/ocpi/emsp/2.2.1/tariffs/NL/CSM"


@pytest.fixture
def peer(live_server, settings):
    settings.OCPI_BASE_URL = f"{live_server.url}/ocpi"
    peer = PeerEmsp().start()
    yield peer
    peer.stop()


@pytest.fixture
def operator():
    return client_for(
        make_operator("roaming.add_party", "stations.change_station", "billing.change_tariff",
                      "billing.delete_tariff", "billing.view_tariff", "stations.view_station")
    )  # fmt: skip


def register(peer: PeerEmsp, operator) -> Party:
    created = operator.post(
        "/api/v1/roaming/parties/",
        {"name": "Peer", "country_code": "DE", "party_id": "EMS", "role": "EMSP"},
        format="json",
    ).json()
    assert peer.register_with(created["versions_url"], created["token_a"])["status_code"] == 1000
    return Party.objects.get(pk=created["id"])


def a_station(name="S", connectors=None, charge_point_id="CP-1") -> Station:
    station = Station.objects.create(
        name=name, address="Main 1", city="Utrecht", country="NL",
        latitude=Decimal("52.1"), longitude=Decimal("5.1"),
    )  # fmt: skip
    make_charge_point(
        charge_point_id, station=station, is_online=True, connectors=connectors or {1: "Available"}
    )
    Connector.objects.filter(charge_point__station=station).update(
        standard="IEC_62196_T2", format="SOCKET", power_type="AC_3_PHASE"
    )
    return station


def our_location(peer: PeerEmsp, station: Station) -> dict:
    """The location as our Sender interface serves it (GET), read by the peer."""
    url = f"{peer.cpo_endpoints[('locations', 'SENDER')]}/{station.pk}"
    status, _, body = call("GET", url, peer.token_c)
    assert status == 200, body
    return body["data"]


def pushes_since(peer: PeerEmsp, mark: int) -> list[tuple[str, str]]:
    return [(method, path) for method, path, _ in peer.pushes[mark:]]


def test_a_new_station_then_its_edit_are_put_as_get_serves_them(peer, operator):
    Tariff.objects.all().delete()
    register(peer, operator)
    station = a_station()
    data_changes_push()
    key = f"NL/CSM/{station.pk}"
    assert pushes_since(peer, 0) == [("PUT", f"{LOCATIONS}/{station.pk}")]
    assert peer.locations[key] == our_location(peer, station)
    answer = operator.patch(
        f"/api/v1/stations/{station.pk}/", {"name": "Station by the lake"}, format="json"
    )
    assert answer.status_code == 200, answer.json()
    mark = len(peer.pushes)
    data_changes_push()
    assert pushes_since(peer, mark) == [("PUT", f"{LOCATIONS}/{station.pk}")]
    assert peer.locations[key]["name"] == "Station by the lake"
    assert peer.locations[key] == our_location(peer, station)
    # Nothing changed since: nothing is sent; every push is in the journal.
    mark = len(peer.pushes)
    data_changes_push()
    assert peer.pushes[mark:] == []
    assert (
        Exchange.objects.filter(method="PUT", url__contains="/locations/", http_status=200).count()
        == 2
    )


def test_what_existed_at_registration_is_left_to_the_partners_pull(peer, operator):
    station = a_station()
    Tariff.objects.create(name="Default", is_default=True, price_per_kwh=Decimal("0.30"))
    register(peer, operator)
    # OCPI's first sync: the partner reads all of it (GET).
    assert len(peer.get_all(peer.cpo_endpoints[("locations", "SENDER")])[0]) == 1
    assert peer.get_all(peer.cpo_endpoints[("tariffs", "SENDER")])[0]
    data_changes_push()
    assert peer.pushes == []
    assert PushedCopy.objects.filter(module="locations", object_id=str(station.pk)).exists()
    Station.objects.filter(pk=station.pk).update(city="Amersfoort", updated_at=timezone.now())
    data_changes_push()
    assert pushes_since(peer, 0) == [("PUT", f"{LOCATIONS}/{station.pk}")]


def test_a_changed_connector_is_patched_with_its_changed_fields(peer, operator):
    register(peer, operator)
    station = a_station()
    data_changes_push()
    connector = Connector.objects.get(charge_point__station=station, connector_id=1)
    connector.max_voltage, connector.max_amperage = 230, 32
    connector.save()
    mark = len(peer.pushes)
    data_changes_push()
    method, path, body = peer.pushes[mark]
    assert (method, path) == ("PATCH", f"{LOCATIONS}/{station.pk}/{connector.pk}/1")
    assert set(body) == {"max_voltage", "max_amperage", "max_electric_power", "last_updated"}
    assert body["max_electric_power"] == 3 * 230 * 32
    assert len(peer.pushes) == mark + 1
    # The peer's copy (parents' last_updated moved by the peer, as the spec asks) has the change.
    pushed = peer.locations[f"NL/CSM/{station.pk}"]
    assert pushed["evses"][0]["connectors"] == our_location(peer, station)["evses"][0]["connectors"]


def test_a_burst_of_edits_is_one_request_per_location(peer, operator):
    register(peer, operator)
    station = a_station(connectors={n: "Available" for n in range(1, 51)})
    data_changes_push()
    mark = len(peer.pushes)
    for connector in Connector.objects.filter(charge_point__station=station, connector_id__gt=0):
        connector.max_power_w = 11_000
        connector.save()
    data_changes_push()
    assert pushes_since(peer, mark) == [("PUT", f"{LOCATIONS}/{station.pk}")]
    assert {e["connectors"][0]["max_electric_power"] for e in peer.locations[
        f"NL/CSM/{station.pk}"]["evses"]} == {11_000}  # fmt: skip
    # One connector edited five times over: one PATCH.
    connector = Connector.objects.get(charge_point__station=station, connector_id=7)
    for power in (7_400, 11_000, 22_000, 3_700, 7_400):
        connector.max_power_w = power
        connector.save()
    mark = len(peer.pushes)
    push_data_changes()  # the beat task
    # An OCPP 1.6 connector is an EVSE of its own; its plug keeps the connector's number.
    assert pushes_since(peer, mark) == [("PATCH", f"{LOCATIONS}/{station.pk}/{connector.pk}/7")]


def test_accepted_and_removed_charge_points_change_the_evses(peer, operator):
    register(peer, operator)
    station = a_station()
    pending = make_charge_point("CP-2", station=station, is_online=True)
    ChargePoint.objects.filter(pk=pending.pk).update(registration_status="Pending")
    data_changes_push()
    key = f"NL/CSM/{station.pk}"
    assert len(peer.locations[key]["evses"]) == 1  # not accepted: not published
    chargepoint_registration_set(charge_point_pk=pending.pk, status="Accepted")
    mark = len(peer.pushes)
    data_changes_push()
    assert pushes_since(peer, mark) == [("PUT", f"{LOCATIONS}/{station.pk}")]
    assert len(peer.locations[key]["evses"]) == 2
    new_uid = str(Connector.objects.get(charge_point=pending, connector_id=1).pk)
    # Removed: OCPI keeps the EVSE, with status REMOVED.
    pending.delete()
    data_changes_push()
    evses = {e["uid"]: e for e in peer.locations[key]["evses"]}
    assert evses[new_uid]["status"] == "REMOVED"
    assert [e["status"] for uid, e in evses.items() if uid != new_uid] == ["AVAILABLE"]
    mark = len(peer.pushes)
    data_changes_push()
    assert peer.pushes[mark:] == []


def test_a_station_taken_off_the_map_is_put_with_its_evses_removed(peer, operator):
    register(peer, operator)
    station = a_station()
    data_changes_push()
    operator.patch(f"/api/v1/stations/{station.pk}/", {"publish": False}, format="json")
    mark = len(peer.pushes)
    data_changes_push()
    assert pushes_since(peer, mark) == [("PUT", f"{LOCATIONS}/{station.pk}")]
    key = f"NL/CSM/{station.pk}"
    assert [e["status"] for e in peer.locations[key]["evses"]] == ["REMOVED"]
    data_changes_push()
    assert len(peer.pushes) == mark + 1  # sent once
    # Back on the map: the live status again.
    operator.patch(f"/api/v1/stations/{station.pk}/", {"publish": True}, format="json")
    data_changes_push()
    assert [e["status"] for e in peer.locations[key]["evses"]] == ["AVAILABLE"]
    # Deleted (a station without sessions can be): withdrawn the same way.
    station_pk = station.pk
    station.delete()
    data_changes_push()
    assert [e["status"] for e in peer.locations[f"NL/CSM/{station_pk}"]["evses"]] == ["REMOVED"]


def test_tariffs_are_put_when_changed_and_deleted_when_gone(peer, operator):
    register(peer, operator)
    station = a_station()
    data_changes_push()
    tariff = Tariff.objects.create(name="Default", is_default=True, price_per_kwh=Decimal("0.30"))
    mark = len(peer.pushes)
    data_changes_push()
    # The tariff first, then the connector that names it.
    uid = str(Connector.objects.get(charge_point__station=station).pk)
    assert pushes_since(peer, mark) == [
        ("PUT", f"{TARIFFS}/{tariff.pk}"),
        ("PATCH", f"{LOCATIONS}/{station.pk}/{uid}/1"),
    ]
    patch = peer.pushes[-1][2]
    assert patch["tariff_ids"] == [str(tariff.pk)]
    # Our connector's own time did not move; the partner is told of a change all the same.
    assert patch["last_updated"] > our_location(peer, station)["evses"][0]["connectors"][0][
        "last_updated"]  # fmt: skip
    answer = operator.patch(
        f"/api/v1/tariffs/{tariff.pk}/", {"price_per_kwh": "0.35"}, format="json"
    )
    assert answer.status_code == 200, answer.json()
    mark = len(peer.pushes)
    data_changes_push()
    assert pushes_since(peer, mark) == [("PUT", f"{TARIFFS}/{tariff.pk}")]
    energy = peer.tariffs[f"NL/CSM/{tariff.pk}"]["elements"][-1]["price_components"][0]
    assert energy["price"] == 0.35
    # Expired: no longer offered, deleted at the partner, after the connector stopped naming it.
    Tariff.objects.filter(pk=tariff.pk).update(valid_until=timezone.now() - timedelta(minutes=1))
    mark = len(peer.pushes)
    data_changes_push()
    assert pushes_since(peer, mark) == [
        ("PUT", f"{LOCATIONS}/{station.pk}/{uid}/1"),  # tariff_ids gone: PATCH cannot remove
        ("DELETE", f"{TARIFFS}/{tariff.pk}"),
    ]
    assert f"NL/CSM/{tariff.pk}" not in peer.tariffs
    # Deleted through the API: DELETE too.
    other = Tariff.objects.create(name="Night", station=station, price_per_kwh=Decimal("0.2"))
    data_changes_push()
    assert f"NL/CSM/{other.pk}" in peer.tariffs
    assert operator.delete(f"/api/v1/tariffs/{other.pk}/").status_code == 204
    mark = len(peer.pushes)
    data_changes_push()
    assert ("DELETE", f"{TARIFFS}/{other.pk}") in pushes_since(peer, mark)
    assert peer.tariffs == {}
    assert not PushedCopy.objects.filter(module="tariffs").exists()


def test_a_partner_that_is_down_gets_the_change_once_when_back(peer, operator, settings):
    party = register(peer, operator)
    station = a_station()
    data_changes_push()
    port = peer.server.server_address[1]
    peer.stop()
    operator.patch(f"/api/v1/stations/{station.pk}/", {"name": "Renamed"}, format="json")
    now = timezone.now()
    assert data_changes_push(now=now)[party.pk].startswith("failed: no answer")
    assert data_changes_push(now=now)[party.pk].startswith("failed")
    # Two failures in a row: left alone for a sweep interval, then tried again.
    assert data_changes_push(now=now)[party.pk] == "backing off"
    peer.start(port=port)
    mark = len(peer.pushes)
    later = now + timedelta(seconds=settings.OCPI_DATA_PUSH_SECONDS + 5)
    data_changes_push(now=later)
    data_changes_push(now=later)
    assert pushes_since(peer, mark) == [("PUT", f"{LOCATIONS}/{station.pk}")]
    assert peer.locations[f"NL/CSM/{station.pk}"]["name"] == "Renamed"
    failed = Exchange.objects.filter(party=party, method="PUT").exclude(error="")
    assert failed.count() == 2 and all("no answer" in e.error for e in failed)


def test_only_partners_with_a_receiver_interface_get_pushes(peer, operator):
    party = register(peer, operator)
    party.endpoints = [
        e for e in party.endpoints if e["identifier"] not in ("locations", "tariffs")
    ]
    party.save()
    a_station()
    Tariff.objects.create(name="Default", is_default=True, price_per_kwh=Decimal("0.30"))
    assert data_changes_push() == {}
    assert peer.pushes == []


def test_a_location_the_status_push_sent_whole_is_not_sent_again(peer, operator):
    party = register(peer, operator)
    station = a_station()
    connector = Connector.objects.get(charge_point__station=station)
    assert evse_status_push(party_pk=party.pk, connector_pk=connector.pk) == "put"
    mark = len(peer.pushes)
    data_changes_push()
    assert peer.pushes[mark:] == []


def test_a_status_change_alone_is_not_a_data_change():
    had = {
        "country_code": "NL", "party_id": "CSM", "id": "1", "name": "S",
        "last_updated": "2026-01-01T00:00:00.000Z",
        "evses": [{"uid": "5", "status": "AVAILABLE", "last_updated": "2026-01-01T00:00:00.000Z",
                   "connectors": [{"id": "1", "standard": "IEC_62196_T2",
                                   "last_updated": "2026-01-01T00:00:00.000Z"}]}],
    }  # fmt: skip
    has = {**had, "evses": [{**had["evses"][0], "status": "CHARGING"}]}
    calls, _ = location_calls(had=had, has=has, now_text="x")
    assert calls == []


def test_a_location_the_partner_refuses_holds_up_no_other(peer, operator):
    party = register(peer, operator)
    refused, accepted = a_station("A"), a_station("B", charge_point_id="CP-2")
    peer.refused_location_ids.add(str(refused.pk))
    assert data_changes_push()[party.pk]["rejected"] == 1
    assert f"NL/CSM/{accepted.pk}" in peer.locations
    # Tried again on the next run (no copy was kept), taken once the partner does.
    peer.refused_location_ids.clear()
    mark = len(peer.pushes)
    data_changes_push()
    assert pushes_since(peer, mark) == [("PUT", f"{LOCATIONS}/{refused.pk}")]


def test_a_partner_that_lost_the_location_gets_all_of_it(peer, operator):
    register(peer, operator)
    station = a_station()
    data_changes_push()
    peer.locations.clear()
    connector = Connector.objects.get(charge_point__station=station)
    connector.max_power_w = 22_000
    connector.save()
    mark = len(peer.pushes)
    data_changes_push()
    assert pushes_since(peer, mark) == [
        ("PATCH", f"{LOCATIONS}/{station.pk}/{connector.pk}/1"),  # 404: unknown location
        ("PUT", f"{LOCATIONS}/{station.pk}"),
    ]
    assert peer.locations[f"NL/CSM/{station.pk}"] == our_location(peer, station)


def test_a_run_whose_time_is_up_leaves_the_rest_to_the_next(peer, operator):
    party = register(peer, operator)
    station = a_station()
    assert data_changes_push(time_budget=0)[party.pk] == "time is up"
    assert peer.pushes == []
    data_changes_push()
    assert ("PUT", f"{LOCATIONS}/{station.pk}") in pushes_since(peer, 0)

"""EVSE status reaches a partner through the outbox, and survives the partner being down."""

from decimal import Decimal

import pytest

from api_support.testing import client_for, make_charge_point, make_operator
from events.models import OutboxMessage
from events.tasks import relay_outbox
from roaming.client import PartnerError
from roaming.push import evse_status_push
from stations.models import Connector, Station
from stations.services import connector_status_update

from .peer_emsp import PeerEmsp

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def registered_peer(live_server, settings):
    settings.OCPI_BASE_URL = f"{live_server.url}/ocpi"
    peer = PeerEmsp().start()
    operator = client_for(make_operator("roaming.add_party"))
    created = operator.post(
        "/api/v1/roaming/parties/",
        {"name": "Peer", "country_code": "DE", "party_id": "EMS", "role": "EMSP"},
        format="json",
    ).json()
    assert peer.register_with(created["versions_url"], created["token_a"])["status_code"] == 1000
    yield peer, created["id"]
    peer.stop()


def a_station():
    station = Station.objects.create(
        name="S", address="Main 1", city="Utrecht", country="NL",
        latitude=Decimal("52.1"), longitude=Decimal("5.1"),
    )  # fmt: skip
    charge_point = make_charge_point(
        "CP-1", station=station, is_online=True, connectors={1: "Available"}
    )
    return station, charge_point


def pending_pushes():
    return OutboxMessage.objects.filter(subscriber="roaming_evse_status", handled_at=None)


def test_status_changes_reach_the_partner(registered_peer):
    peer, _ = registered_peer
    station, charge_point = a_station()
    connector_status_update(
        charge_point_pk=charge_point.pk, connector_id=1, status="Charging", error_code="NoError"
    )
    relay_outbox()
    # The partner did not know the location: it got all of it, with the new status.
    location = peer.locations[f"NL/CSM/{station.pk}"]
    assert location["evses"][0]["status"] == "CHARGING"
    connector_status_update(
        charge_point_pk=charge_point.pk, connector_id=1, status="Faulted", error_code="OtherError"
    )
    relay_outbox()
    assert peer.locations[f"NL/CSM/{station.pk}"]["evses"][0]["status"] == "OUTOFORDER"
    patches = [p for m, p, t in peer.received if m == "PATCH"]
    connector = Connector.objects.get(charge_point=charge_point, connector_id=1)
    assert patches[-1] == f"/ocpi/emsp/2.2.1/locations/NL/CSM/{station.pk}/{connector.pk}"
    assert not pending_pushes().exists()


def test_a_partner_that_is_down_delays_the_push_and_loses_nothing(registered_peer, settings):
    settings.OCPI_COUNTRY_CODE, settings.OCPI_PARTY_ID = "NL", "CSM"
    peer, party_pk = registered_peer
    station, charge_point = a_station()
    port = peer.server.server_address[1]
    peer.stop()
    # The charge point's status is recorded as usual while the partner is down.
    connector_status_update(
        charge_point_pk=charge_point.pk, connector_id=1, status="Charging", error_code="NoError"
    )
    connector = Connector.objects.get(charge_point=charge_point, connector_id=1)
    assert connector.status == "Charging"
    with pytest.raises(PartnerError):
        evse_status_push(party_pk=party_pk, connector_pk=connector.pk)
    relay_outbox()
    waiting = pending_pushes().get()
    assert waiting.attempts == 1 and "no answer" in waiting.last_error
    # The partner comes back; the retried push delivers the current status.
    peer.start(port=port)
    pending_pushes().update(next_attempt_at=waiting.created_at)
    relay_outbox()
    assert not pending_pushes().exists()
    assert peer.locations[f"NL/CSM/{station.pk}"]["evses"][0]["status"] == "CHARGING"


def test_without_a_partner_taking_pushes_nothing_is_queued():
    _, charge_point = a_station()
    connector_status_update(
        charge_point_pk=charge_point.pk, connector_id=1, status="Charging", error_code="NoError"
    )
    assert not OutboxMessage.objects.filter(subscriber="roaming_evse_status").exists()

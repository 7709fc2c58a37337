"""The eMSP reserves an EVSE for its driver by OCPI command (RESERVE_NOW, CANCEL_RESERVATION).

The eMSP is the peer written from the specification (peer_emsp.py, which
receives the CommandResults at its response_urls); the charger speaks OCPP
1.6 to the ASGI application (test_commands explains the threads).
"""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from events.tasks import relay_outbox
from roaming.models import RoamingReservation
from stations.models import Reservation, ReservationStatus
from stations.services.reservations import reservations_expire

from . import test_sessions_cdrs
from .test_commands import answer_call, at_now, our_evse, send_command, start_body
from .test_sessions_cdrs import CARD, Charger, at, closing_connections, session_key

pytestmark = pytest.mark.django_db(transaction=True)

peer_with_a_driver = test_sessions_cdrs.peer_with_a_driver


def reserve_body(peer, reference, location_id, evse_uid=None, reservation_id="R-1", **extra):
    token = {
        "country_code": "DE", "party_id": "EMS", "uid": CARD, "type": "RFID",
        "contract_id": "DE-EMS-C00000001-1", "issuer": "Peer eMSP", "valid": True,
        "whitelist": "ALLOWED", "last_updated": "2026-12-01T10:00:00Z",
    }  # fmt: skip
    body = {
        "response_url": peer.response_url(reference),
        "token": token,
        "expiry_date": at(timezone.now() + timedelta(minutes=30)),
        "reservation_id": reservation_id,
        "location_id": location_id,
        **extra,
    }
    if evse_uid is not None:
        body["evse_uid"] = evse_uid
    return body


async def reserve(peer, charger, body, *, answer="Accepted") -> dict:
    """The eMSP's RESERVE_NOW, answered by the charger; the ReserveNow the charger got."""
    pending = send_command(peer, "RESERVE_NOW", body)
    sent = await answer_call(charger, "ReserveNow", {"status": answer})
    status, envelope = await pending
    assert status == 200 and envelope["data"]["result"] == "ACCEPTED", envelope
    return sent


@sync_to_async
def reservation_status(ocpp_reservation_id: int) -> str:
    return Reservation.objects.get(reservation_id=ocpp_reservation_id).status


@closing_connections
async def test_a_reservation_is_made_with_our_own_id_and_used_by_the_session(peer_with_a_driver):
    peer = peer_with_a_driver
    location_id, evse_uid = await our_evse()
    async with Charger() as charger:
        body = reserve_body(peer, "n1", location_id, evse_uid, authorization_reference="AUTH-RES-1")
        sent = await reserve(peer, charger, body)
        # The partner's id never reaches the charger (OCPI): ours, unique in our network.
        assert sent["reservationId"] != "R-1" and isinstance(sent["reservationId"], int)
        assert sent["connectorId"] == 1 and sent["idTag"] == CARD
        assert [r["result"] for r in peer.command_results["n1"]] == ["ACCEPTED"]
        assert await reservation_status(sent["reservationId"]) == ReservationStatus.ACCEPTED

        # The driver arrives: the start names the reservation, which becomes the session.
        started = await charger.call(
            "StartTransaction",
            {
                "connectorId": 1, "idTag": CARD, "meterStart": 0, "timestamp": at_now(),
                "reservationId": sent["reservationId"],
            },
        )  # fmt: skip
        assert started["idTagInfo"]["status"] == "Accepted"
        assert await reservation_status(sent["reservationId"]) == ReservationStatus.USED
        await sync_to_async(relay_outbox)()
        session = peer.sessions[session_key(started["transactionId"])]
        assert session["authorization_reference"] == "AUTH-RES-1"
        assert session["auth_method"] == "COMMAND"


@closing_connections
async def test_a_reservation_the_charger_refuses(peer_with_a_driver):
    peer = peer_with_a_driver
    location_id, evse_uid = await our_evse()
    async with Charger() as charger:
        sent = await reserve(
            peer, charger, reserve_body(peer, "o1", location_id, evse_uid), answer="Occupied"
        )
    assert [r["result"] for r in peer.command_results["o1"]] == ["EVSE_OCCUPIED"]
    assert await reservation_status(sent["reservationId"]) == ReservationStatus.OCCUPIED


@closing_connections
async def test_a_reservation_without_an_evse_reserves_any_connector(peer_with_a_driver):
    peer = peer_with_a_driver
    location_id, _ = await our_evse()
    async with Charger() as charger:
        sent = await reserve(peer, charger, reserve_body(peer, "a1", location_id))
    assert sent["connectorId"] == 0
    assert [r["result"] for r in peer.command_results["a1"]] == ["ACCEPTED"]


@closing_connections
async def test_the_same_reservation_id_replaces_the_reservation(peer_with_a_driver):
    peer = peer_with_a_driver
    location_id, evse_uid = await our_evse()
    async with Charger() as charger:
        first = await reserve(peer, charger, reserve_body(peer, "f1", location_id, evse_uid))
        later = at(timezone.now() + timedelta(hours=2))
        body = reserve_body(peer, "f2", location_id, evse_uid, expiry_date=later)
        second = await reserve(peer, charger, body)
    # OCPP: a ReserveNow with the id of a reservation the charger holds replaces it.
    assert second["reservationId"] == first["reservationId"]
    assert second["expiryDate"].startswith(later[:16])
    assert await sync_to_async(RoamingReservation.objects.count)() == 1
    assert [r["result"] for r in peer.command_results["f2"]] == ["ACCEPTED"]


@closing_connections
async def test_cancel_a_reservation(peer_with_a_driver):
    peer = peer_with_a_driver
    location_id, evse_uid = await our_evse()
    async with Charger() as charger:
        sent = await reserve(peer, charger, reserve_body(peer, "c1", location_id, evse_uid))

        body = {"response_url": peer.response_url("c2"), "reservation_id": "R-1"}
        pending = send_command(peer, "CANCEL_RESERVATION", body)
        cancel = await answer_call(charger, "CancelReservation", {"status": "Accepted"})
        assert cancel == {"reservationId": sent["reservationId"]}
        _, envelope = await pending
        assert envelope["data"]["result"] == "ACCEPTED", envelope
        assert [r["result"] for r in peer.command_results["c2"]] == ["ACCEPTED"]
        assert await reservation_status(sent["reservationId"]) == ReservationStatus.CANCELLED

        # Cancelled already, or never made: REJECTED at once, nothing sent to the charger.
        for reservation_id in ("R-1", "NOT-OURS"):
            body = {"response_url": peer.response_url("c3"), "reservation_id": reservation_id}
            _, envelope = await send_command(peer, "CANCEL_RESERVATION", body)
            assert envelope["status_code"] == 1000
            assert envelope["data"]["result"] == "REJECTED", envelope
    assert "c3" not in peer.command_results


@closing_connections
async def test_a_cancellation_the_charger_does_not_know(peer_with_a_driver):
    peer = peer_with_a_driver
    location_id, evse_uid = await our_evse()
    async with Charger() as charger:
        await reserve(peer, charger, reserve_body(peer, "k1", location_id, evse_uid))
        body = {"response_url": peer.response_url("k2"), "reservation_id": "R-1"}
        pending = send_command(peer, "CANCEL_RESERVATION", body)
        await answer_call(charger, "CancelReservation", {"status": "Rejected"})
        await pending
    assert [r["result"] for r in peer.command_results["k2"]] == ["UNKNOWN_RESERVATION"]


@closing_connections
async def test_an_expired_reservation_cannot_be_cancelled(peer_with_a_driver):
    peer = peer_with_a_driver
    location_id, evse_uid = await our_evse()
    async with Charger() as charger:
        await reserve(peer, charger, reserve_body(peer, "e1", location_id, evse_uid))
        await sync_to_async(reservations_expire)(now=timezone.now() + timedelta(hours=1))
        body = {"response_url": peer.response_url("e2"), "reservation_id": "R-1"}
        _, envelope = await send_command(peer, "CANCEL_RESERVATION", body)
    assert envelope["data"]["result"] == "REJECTED", envelope
    assert "ended" in envelope["data"]["message"][0]["text"]


@closing_connections
async def test_reservations_refused_at_once(peer_with_a_driver):
    peer = peer_with_a_driver
    location_id, evse_uid = await our_evse()
    async with Charger():
        # An expiry in the past.
        past = at(timezone.now() - timedelta(minutes=1))
        body = reserve_body(peer, "p1", location_id, evse_uid, expiry_date=past)
        _, envelope = await send_command(peer, "RESERVE_NOW", body)
        assert envelope["data"]["result"] == "REJECTED", envelope

        # A token the eMSP says is not valid.
        body = reserve_body(peer, "p2", location_id, evse_uid)
        body["token"].update(uid="0000UNKNOWN", valid=False)
        _, envelope = await send_command(peer, "RESERVE_NOW", body)
        assert envelope["data"]["result"] == "REJECTED", envelope

        # An EVSE we do not have: 2003 with REJECTED.
        _, envelope = await send_command(
            peer, "RESERVE_NOW", reserve_body(peer, "p3", location_id, "999999")
        )
        assert envelope["status_code"] == 2003 and envelope["data"]["result"] == "REJECTED"

        # A malformed expiry: 2001 naming the field.
        body = reserve_body(peer, "p4", location_id, evse_uid, expiry_date="tomorrow")
        status, envelope = await send_command(peer, "RESERVE_NOW", body)
        assert status == 400 and envelope["status_message"].startswith("expiry_date:")
    assert peer.command_results == {}
    assert await sync_to_async(RoamingReservation.objects.count)() == 0


@closing_connections
async def test_a_start_session_reference_is_carried_into_the_session(peer_with_a_driver):
    peer = peer_with_a_driver
    location_id, evse_uid = await our_evse()
    async with Charger() as charger:
        body = start_body(peer, "s1", location_id, evse_uid)
        body["authorization_reference"] = "AUTH-START-1"
        pending = send_command(peer, "START_SESSION", body)
        await answer_call(charger, "RemoteStartTransaction", {"status": "Accepted"})
        _, envelope = await pending
        assert envelope["data"]["result"] == "ACCEPTED", envelope
        started = await charger.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": CARD, "meterStart": 0, "timestamp": at_now()},
        )
        await sync_to_async(relay_outbox)()
    session = peer.sessions[session_key(started["transactionId"])]
    assert session["authorization_reference"] == "AUTH-START-1"
    assert session["auth_method"] == "COMMAND"

"""Real-time authorization: a charger's request for a partner's token asks the partner first.

The eMSP is the peer written from the specification (peer_emsp.py: its
Tokens Sender answers POST {tokens}/{uid}/authorize); the chargers speak
OCPP 1.6 and 2.0.1 to the ASGI application. The rules (roaming.realtime):
NEVER and ALLOWED_OFFLINE are asked, ALLOWED is decided from the stored
token; a partner that cannot be asked refuses NEVER and lets the stored
token decide ALLOWED_OFFLINE.
"""

import json
import time
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from csms_project.asgi import application
from events.tasks import relay_outbox
from roaming.choices import Direction
from roaming.models import Exchange

from . import test_sessions_cdrs
from .peer_emsp import call
from .test_commands import at_now, our_evse
from .test_sessions_cdrs import CARD, Charger, closing_connections, session_key
from .test_tokens import authorize

pytestmark = pytest.mark.django_db(transaction=True)

peer_with_a_driver = test_sessions_cdrs.peer_with_a_driver


@sync_to_async(thread_sensitive=False)
def whitelist_set(peer, whitelist: str) -> None:
    """The eMSP changes its driver's token (PATCH to our Tokens Receiver)."""
    url = f"{peer.cpo_endpoints[('tokens', 'RECEIVER')]}/DE/EMS/{CARD}"
    body = {"whitelist": whitelist, "last_updated": "2026-12-02T10:00:00Z"}
    status, _, answer = call("PATCH", url, peer.token_c, body)
    assert status == 200 and answer["status_code"] == 1000, answer


async def authorize_at(charger: Charger) -> str:
    answer = await charger.call("Authorize", {"idTag": CARD})
    return answer["idTagInfo"]["status"]


@closing_connections
async def test_a_never_token_is_authorized_by_the_partner(peer_with_a_driver):
    peer = peer_with_a_driver
    await whitelist_set(peer, "NEVER")
    peer.authorizations[CARD] = {"allowed": "ALLOWED", "authorization_reference": "RT-0001"}
    location_id, evse_uid = await our_evse()
    async with Charger() as charger:
        assert await authorize_at(charger) == "Accepted"
        assert peer.authorize_requests == [
            {
                "uid": CARD,
                "type": "RFID",
                "location": {"location_id": location_id, "evse_uids": [evse_uid]},
            }
        ]
        # The start right after the Authorize uses the partner's answer: not asked twice.
        started = await charger.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": CARD, "meterStart": 0, "timestamp": at_now()},
        )
        assert started["idTagInfo"]["status"] == "Accepted"
        assert len(peer.authorize_requests) == 1
        await sync_to_async(relay_outbox)()
    # The partner's reference is carried into the Session.
    session = peer.sessions[session_key(started["transactionId"])]
    assert session["authorization_reference"] == "RT-0001"
    assert session["auth_method"] == "AUTH_REQUEST"
    # Journalled like every OCPI request.
    urls = await sync_to_async(list)(
        Exchange.objects.filter(direction=Direction.OUTGOING).values_list("url", flat=True)
    )
    assert any(url.endswith(f"/tokens/{CARD}/authorize?type=RFID") for url in urls)


@pytest.mark.parametrize(
    ("allowed", "status"),
    [("BLOCKED", "Blocked"), ("EXPIRED", "Expired"), ("NO_CREDIT", "Invalid"),
     ("NOT_ALLOWED", "Invalid")],
)  # fmt: skip
@closing_connections
async def test_the_partner_refuses(peer_with_a_driver, allowed, status):
    peer = peer_with_a_driver
    await whitelist_set(peer, "NEVER")
    peer.authorizations[CARD] = {"allowed": allowed}
    async with Charger() as charger:
        assert await authorize_at(charger) == status


@closing_connections
async def test_allowed_offline_asks_the_partner_while_it_answers(peer_with_a_driver):
    peer = peer_with_a_driver
    await whitelist_set(peer, "ALLOWED_OFFLINE")
    peer.authorizations[CARD] = {"allowed": "NOT_ALLOWED"}
    async with Charger() as charger:
        assert await authorize_at(charger) == "Invalid"
    assert len(peer.authorize_requests) == 1


@closing_connections
async def test_a_token_the_partner_does_not_know_is_refused(peer_with_a_driver):
    peer = peer_with_a_driver
    await whitelist_set(peer, "ALLOWED_OFFLINE")
    async with Charger() as charger:  # the peer answers 404 / 2004
        assert await authorize_at(charger) == "Invalid"


@closing_connections
async def test_an_allowed_token_is_decided_from_the_stored_token(peer_with_a_driver):
    peer = peer_with_a_driver
    peer.authorizations[CARD] = {"allowed": "BLOCKED"}
    async with Charger() as charger:
        assert await authorize_at(charger) == "Accepted"
    assert peer.authorize_requests == []


@pytest.mark.parametrize(
    ("whitelist", "status"),
    [("NEVER", "Invalid"), ("ALLOWED_OFFLINE", "Accepted"), ("ALLOWED", "Accepted")],
)
@closing_connections
async def test_a_partner_that_is_down(peer_with_a_driver, whitelist, status):
    peer = peer_with_a_driver
    await whitelist_set(peer, whitelist)
    peer.stop()
    async with Charger() as charger:
        started = time.monotonic()
        assert await authorize_at(charger) == status
        assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("whitelist", "status"), [("NEVER", "Invalid"), ("ALLOWED_OFFLINE", "Accepted")]
)
@closing_connections
async def test_a_partner_too_slow_to_answer(peer_with_a_driver, settings, whitelist, status):
    settings.OCPI_REALTIME_AUTH_TIMEOUT_SECONDS = 0.5
    peer = peer_with_a_driver
    await whitelist_set(peer, whitelist)
    peer.authorizations[CARD] = {"allowed": "ALLOWED"}
    peer.authorize_delay = 3
    async with Charger() as charger:
        started = time.monotonic()
        assert await authorize_at(charger) == status
        # Well within a charger's call timeout, however slow the partner.
        assert time.monotonic() - started < 2


@closing_connections
async def test_an_ocpp201_charger_asks_too(peer_with_a_driver):
    peer = peer_with_a_driver
    await whitelist_set(peer, "NEVER")
    peer.authorizations[CARD] = {"allowed": "ALLOWED"}
    assert await authorize("/ocpp/CP-R201", "ocpp2.0.1", CARD) == "Accepted"
    peer.authorizations[CARD] = {"allowed": "BLOCKED"}
    assert await authorize("/ocpp/CP-R202", "ocpp2.0.1", CARD) == "Blocked"
    assert len(peer.authorize_requests) == 2


@closing_connections
async def test_an_ocpp201_transaction_started_by_a_card_asks_the_partner(peer_with_a_driver):
    peer = peer_with_a_driver
    await whitelist_set(peer, "NEVER")
    peer.authorizations[CARD] = {"allowed": "ALLOWED", "authorization_reference": "RT-201"}
    socket = WebsocketCommunicator(application, "/ocpp/CP-R203", subprotocols=["ocpp2.0.1"])
    assert (await socket.connect(timeout=5))[0]
    boot = {"reason": "PowerUp", "chargingStation": {"vendorName": "ACME", "model": "W"}}
    event = {
        "eventType": "Started", "timestamp": at_now(), "triggerReason": "Authorized",
        "seqNo": 0, "transactionInfo": {"transactionId": "T-201"},
        "idToken": {"idToken": CARD, "type": "ISO14443"}, "evse": {"id": 1, "connectorId": 1},
    }  # fmt: skip
    try:
        for action, payload in (("BootNotification", boot), ("TransactionEvent", event)):
            await socket.send_to(text_data=json.dumps([2, uuid.uuid4().hex, action, payload]))
            frame = await socket.receive_json_from(timeout=5)
            assert frame[0] == 3, frame
    finally:
        await socket.disconnect()
    assert frame[2]["idTokenInfo"]["status"] == "Accepted"
    assert [request["uid"] for request in peer.authorize_requests] == [CARD]


@closing_connections
async def test_a_partner_that_unregistered_is_not_asked_and_its_drivers_stay_blocked(
    peer_with_a_driver,
):
    peer = peer_with_a_driver
    await whitelist_set(peer, "ALLOWED_OFFLINE")
    url = peer.cpo_endpoints[("credentials", "RECEIVER")]
    status, _, _ = await sync_to_async(call, thread_sensitive=False)("DELETE", url, peer.token_c)
    assert status == 200
    async with Charger() as charger:
        assert await authorize_at(charger) == "Blocked"
    assert peer.authorize_requests == []

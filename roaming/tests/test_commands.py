"""The eMSP starts and stops its driver's session by OCPI command at a simulated OCPP 1.6 charger.

The eMSP is the peer written from the specification (peer_emsp.py, which
also receives the CommandResults at its response_urls); the charger speaks
OCPP 1.6 to the ASGI application. The command request runs in a worker
thread, as under Daphne, so the command path reaches the charger's
consumer on this event loop; the Celery tasks run eagerly.
"""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.test import Client
from django.utils import timezone

from events.tasks import relay_outbox
from roaming.choices import Direction
from roaming.models import Exchange
from stations.models import Connector

from . import test_sessions_cdrs
from .peer_emsp import encode_token
from .test_sessions_cdrs import (
    CARD,
    Charger,
    at,
    closing_connections,
    session_key,
)

pytestmark = pytest.mark.django_db(transaction=True)

# The registered eMSP with its driver's card, and the charger's station.
peer_with_a_driver = test_sessions_cdrs.peer_with_a_driver

COMMANDS = "/ocpi/cpo/2.2.1/commands"


def _post(token: str, command: str, body) -> tuple[int, dict]:
    try:
        response = Client().post(
            f"{COMMANDS}/{command}",
            data=json.dumps(body),
            content_type="application/json",
            headers={"Authorization": encode_token(token)},
        )
        return response.status_code, response.json()
    finally:
        connections.close_all()  # this worker thread's connection


def send_command(peer, command: str, body):
    """The eMSP's POST, in a worker thread; await it for (HTTP status, envelope)."""
    call = sync_to_async(_post, thread_sensitive=False)
    return asyncio.ensure_future(call(peer.token_c, command, body))


@sync_to_async
def our_evse() -> tuple[str, str]:
    connector = Connector.objects.get(charge_point__charge_point_id="CP-ROAM", connector_id=1)
    return str(connector.charge_point.station_id), str(connector.pk)


def start_body(
    peer, reference: str, location_id: str, evse_uid: str, uid: str = CARD, **token_fields
) -> dict:
    token = {
        "country_code": "DE", "party_id": "EMS", "uid": uid, "type": "RFID",
        "contract_id": "DE-EMS-C00000001-1", "issuer": "Peer eMSP", "valid": True,
        "whitelist": "ALLOWED", "last_updated": "2026-12-01T10:00:00Z",
    } | token_fields  # fmt: skip
    return {
        "response_url": peer.response_url(reference),
        "token": token,
        "location_id": location_id,
        "evse_uid": evse_uid,
    }


async def answer_call(charger: Charger, action: str, payload: dict) -> dict:
    """The charger receives the CALL `action` and answers it; the CALL's payload."""
    frame = await charger.socket.receive_json_from(timeout=10)
    assert frame[0] == 2 and frame[2] == action, frame
    await charger.socket.send_to(text_data=json.dumps([3, frame[1], payload]))
    return frame[3]


@closing_connections
async def test_start_and_stop_session_by_command(peer_with_a_driver):
    peer = peer_with_a_driver
    location_id, evse_uid = await our_evse()
    async with Charger() as charger:
        pending = send_command(peer, "START_SESSION", start_body(peer, "s1", location_id, evse_uid))
        sent = await answer_call(charger, "RemoteStartTransaction", {"status": "Accepted"})
        assert sent == {"connectorId": 1, "idTag": CARD}
        status, answer = await pending
        assert status == 200 and answer["status_code"] == 1000, answer
        assert answer["data"]["result"] == "ACCEPTED" and answer["data"]["timeout"] > 0
        assert [r["result"] for r in peer.command_results["s1"]] == ["ACCEPTED"]

        # The charger starts the session: the partner's roaming session, pushed to it.
        started = await charger.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": CARD, "meterStart": 0, "timestamp": at_now()},
        )
        assert started["idTagInfo"]["status"] == "Accepted"
        tx = started["transactionId"]
        await sync_to_async(relay_outbox)()
        assert peer.sessions[session_key(tx)]["status"] == "ACTIVE"

        body = {"response_url": peer.response_url("p1"), "session_id": str(tx)}
        pending = send_command(peer, "STOP_SESSION", body)
        sent = await answer_call(charger, "RemoteStopTransaction", {"status": "Accepted"})
        assert sent == {"transactionId": tx}
        status, answer = await pending
        assert answer["data"]["result"] == "ACCEPTED", answer
        assert [r["result"] for r in peer.command_results["p1"]] == ["ACCEPTED"]

    # Journalled like every OCPI exchange: the command in, the result out.
    urls = await sync_to_async(set)(Exchange.objects.values_list("direction", "url"))
    assert (Direction.INCOMING, f"{COMMANDS}/START_SESSION") in urls
    assert (Direction.OUTGOING, peer.response_url("s1")) in urls


def at_now() -> str:
    return at(timezone.now())


APP_USER = "a3f1c2d4-5e6f-4a8b-9c0d-1e2f3a4b5c6d"  # 36 characters: longer than an id tag


@closing_connections
async def test_an_app_user_never_pushed_starts_by_command(peer_with_a_driver):
    """OCPI: the eMSP authorizes the Token of its START_SESSION; app users are not pushed."""
    peer = peer_with_a_driver
    location_id, evse_uid = await our_evse()
    body = start_body(
        peer, "app1", location_id, evse_uid, uid=APP_USER, type="APP_USER", whitelist="NEVER"
    )
    body["authorization_reference"] = "AUTH-APP-1"
    async with Charger() as charger:
        pending = send_command(peer, "START_SESSION", body)
        sent = await answer_call(charger, "RemoteStartTransaction", {"status": "Accepted"})
        # An id tag of its own (the uid does not fit in an OCPP 1.6 idTag).
        tag = sent["idTag"]
        assert len(tag) == 20 and tag != APP_USER[:20]
        status, answer = await pending
        assert answer["data"]["result"] == "ACCEPTED", answer

        # The start is the command's: not asked about again in real time (NEVER), accepted.
        started = await charger.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": tag, "meterStart": 0, "timestamp": at_now()},
        )
        assert started["idTagInfo"]["status"] == "Accepted"
        assert peer.authorize_requests == []
        tx = started["transactionId"]
        await sync_to_async(relay_outbox)()
        session = peer.sessions[session_key(tx)]
        assert session["cdr_token"]["uid"] == APP_USER
        assert session["cdr_token"]["type"] == "APP_USER"
        assert session["auth_method"] == "COMMAND"
        assert session["authorization_reference"] == "AUTH-APP-1"

        # The same app user again: the same id tag.
        again = start_body(peer, "app2", location_id, evse_uid, uid=APP_USER, type="APP_USER")
        pending = send_command(peer, "START_SESSION", again)
        # Connector 1 is charging: the charger refuses, the tag is the same.
        sent = await answer_call(charger, "RemoteStartTransaction", {"status": "Rejected"})
        assert sent["idTag"] == tag
        await pending
        assert [r["result"] for r in peer.command_results["app2"]] == ["REJECTED"]


@closing_connections
async def test_a_charger_that_rejects_gives_the_result_rejected(peer_with_a_driver):
    peer = peer_with_a_driver
    location_id, evse_uid = await our_evse()
    async with Charger() as charger:
        pending = send_command(peer, "START_SESSION", start_body(peer, "r1", location_id, evse_uid))
        await answer_call(charger, "RemoteStartTransaction", {"status": "Rejected"})
        _, answer = await pending
        assert answer["data"]["result"] == "ACCEPTED"
    assert [r["result"] for r in peer.command_results["r1"]] == ["REJECTED"]


@closing_connections
async def test_a_charger_that_does_not_answer_gives_the_result_timeout(
    peer_with_a_driver, settings
):
    settings.OCPP_CALL_TIMEOUT = 1.0
    peer = peer_with_a_driver
    location_id, evse_uid = await our_evse()
    async with Charger() as charger:
        pending = send_command(peer, "START_SESSION", start_body(peer, "t1", location_id, evse_uid))
        frame = await charger.socket.receive_json_from(timeout=10)
        assert frame[2] == "RemoteStartTransaction"
        _, answer = await pending  # never answered
        assert answer["data"]["result"] == "ACCEPTED"
    assert [r["result"] for r in peer.command_results["t1"]] == ["TIMEOUT"]


@closing_connections
async def test_unlock_connector(peer_with_a_driver):
    peer = peer_with_a_driver
    location_id, evse_uid = await our_evse()
    body = {
        "response_url": peer.response_url("k1"), "location_id": location_id,
        "evse_uid": evse_uid, "connector_id": "1",
    }  # fmt: skip
    async with Charger() as charger:
        pending = send_command(peer, "UNLOCK_CONNECTOR", body)
        sent = await answer_call(charger, "UnlockConnector", {"status": "UnlockFailed"})
        assert sent == {"connectorId": 1}
        _, answer = await pending
        assert answer["data"]["result"] == "ACCEPTED"
    assert [r["result"] for r in peer.command_results["k1"]] == ["FAILED"]


@closing_connections
async def test_refusals_are_answered_at_once(peer_with_a_driver):
    peer = peer_with_a_driver
    location_id, evse_uid = await our_evse()

    # The charger is not connected: REJECTED at once, no result follows.
    _, answer = await send_command(
        peer, "START_SESSION", start_body(peer, "o1", location_id, evse_uid)
    )
    assert answer["status_code"] == 1000 and answer["data"]["result"] == "REJECTED", answer
    assert "offline" in answer["data"]["message"][0]["text"]

    async with Charger():
        # A token the eMSP itself says is not valid.
        body = start_body(peer, "u1", location_id, evse_uid, uid="0000UNKNOWN", valid=False)
        _, answer = await send_command(peer, "START_SESSION", body)
        assert answer["data"]["result"] == "REJECTED", answer
        # A Token object that is not one: 2001 naming its field.
        body = start_body(peer, "u2", location_id, evse_uid, type="BADGE")
        status, answer = await send_command(peer, "START_SESSION", body)
        assert status == 400 and answer["status_message"].startswith("token.type"), answer

        # A location or EVSE we do not have: OCPI 2003 with the result REJECTED.
        for location, evse in (("999999", evse_uid), (location_id, "999999")):
            body = start_body(peer, "l1", location, evse)
            _, answer = await send_command(peer, "START_SESSION", body)
            assert answer["status_code"] == 2003 and answer["data"]["result"] == "REJECTED"

        # A session that is not running (or not the partner's).
        body = {"response_url": peer.response_url("x1"), "session_id": "424242"}
        _, answer = await send_command(peer, "STOP_SESSION", body)
        assert answer["data"]["result"] == "UNKNOWN_SESSION", answer

        # Not a command, or not its object: 2001 naming the field.
        status, answer = await send_command(peer, "SELF_DESTRUCT", {})
        assert status == 400 and answer["status_code"] == 2001
        assert answer["status_message"].startswith("command:")
        body = start_body(peer, "b1", location_id, evse_uid)
        del body["token"]
        status, answer = await send_command(peer, "START_SESSION", body)
        assert status == 400 and answer["status_message"].startswith("token:")
    assert peer.command_results == {}


def test_partners_find_the_commands_endpoint(peer_with_a_driver):
    peer = peer_with_a_driver
    url = peer.cpo_endpoints[("commands", "RECEIVER")]
    assert url.endswith("/ocpi/cpo/2.2.1/commands")

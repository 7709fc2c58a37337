"""What a stranger's charge point can do with the product's defaults: nothing, until accepted.

Daphne runs as a real process on 127.0.0.1 with neither OCPP_AUTO_REGISTER
nor OCPP_DEFAULT_REGISTRATION_STATUS in its environment. An unknown charge
point connects (auto-registered as Pending), cannot authorize a driver's
existing tag nor start a session; an operator accepts it through the API,
which makes it boot again at once; then it can.
"""

import asyncio
import json
import urllib.request
import uuid

import pytest
import websockets
from rest_framework.authtoken.models import Token

from api_support.testing import make_driver, make_operator
from csms_project import testing
from stations.choices import SessionStatus
from stations.models import ChargePoint, Transaction

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.secure_defaults,
    pytest.mark.django_db(transaction=True),
]

CHARGE_POINT_ID = "STRANGER-E2E"
BOOT = {"chargePointVendor": "Anyone", "chargePointModel": "Anything"}
START = {"connectorId": 1, "idTag": "ALICE-TAG", "meterStart": 0}


class Socket:
    """A charge point speaking raw OCPP-J, so that every frame is seen as sent."""

    def __init__(self, ws):
        self.ws = ws

    async def call(self, action: str, payload: dict) -> list:
        unique_id = uuid.uuid4().hex
        await self.ws.send(json.dumps([2, unique_id, action, payload]))
        frame = json.loads(await asyncio.wait_for(self.ws.recv(), 15))
        assert frame[1] == unique_id, frame
        return frame

    async def answer_next_call(self, action: str, payload: dict) -> list:
        frame = json.loads(await asyncio.wait_for(self.ws.recv(), 15))
        assert frame[0] == 2 and frame[2] == action, frame
        await self.ws.send(json.dumps([3, frame[1], payload]))
        return frame


def post(url: str, token: str) -> dict:
    request = urllib.request.Request(
        url, method="POST", data=b"", headers={"Authorization": f"Token {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def started_now(payload: dict) -> dict:
    from django.utils import timezone

    from stations.timestamps import format_ocpp_datetime

    return {**payload, "timestamp": format_ocpp_datetime(timezone.now())}


async def play(ws_url: str, accept_url: str, token: str) -> dict:
    seen = {}
    async with websockets.connect(ws_url, subprotocols=["ocpp1.6"]) as ws:
        socket = Socket(ws)
        seen["boot"] = await socket.call("BootNotification", BOOT)
        seen["authorize"] = await socket.call("Authorize", {"idTag": "ALICE-TAG"})
        seen["start"] = await socket.call("StartTransaction", started_now(START))

        # The operator accepts it; the charge point is asked to boot at once.
        accepted = asyncio.create_task(asyncio.to_thread(post, accept_url, token))
        seen["trigger"] = await socket.answer_next_call("TriggerMessage", {"status": "Accepted"})
        seen["accepted"] = await accepted
        seen["boot_again"] = await socket.call("BootNotification", BOOT)
        seen["authorize_again"] = await socket.call("Authorize", {"idTag": "ALICE-TAG"})
        seen["start_again"] = await socket.call("StartTransaction", started_now(START))
    return seen


def test_a_strangers_charge_point_waits_for_an_operator(tmp_path):
    make_driver("alice", "ALICE-TAG")
    operator = make_operator("stations.change_chargepoint")
    token = Token.objects.create(user=operator).key
    env = testing.process_env()
    # The product's defaults, not the lab opt-in of the other tests.
    env.pop("OCPP_DEFAULT_REGISTRATION_STATUS", None)
    env.pop("OCPP_AUTO_REGISTER", None)

    with testing.daphne_node(env, tmp_path) as base_url:
        ws_url = base_url.replace("http://", "ws://") + f"/ocpp/{CHARGE_POINT_ID}"
        accept_url = f"{base_url}/api/v1/charge-points/{CHARGE_POINT_ID}/accept/"
        seen = asyncio.run(play(ws_url, accept_url, token))

    # Before: registered, waiting; a driver's good tag is neither judged nor used.
    assert seen["boot"][0] == 3 and seen["boot"][2]["status"] == "Pending"
    assert seen["authorize"][0] == 4 and seen["authorize"][2] == "SecurityError"
    assert seen["start"][0] == 4 and seen["start"][2] == "SecurityError"

    # The operator's one click, and the boot it triggers.
    assert seen["trigger"][3] == {"requestedMessage": "BootNotification"}
    assert seen["accepted"]["registration_status"] == "Accepted"
    assert seen["accepted"]["boot_trigger"]["answer"] == "Accepted"
    assert seen["boot_again"][2]["status"] == "Accepted"

    # After: the same charge point authorizes the tag and starts a session.
    assert seen["authorize_again"][2]["idTagInfo"]["status"] == "Accepted"
    started = seen["start_again"][2]
    assert started["idTagInfo"]["status"] == "Accepted"
    session = Transaction.objects.get(pk=started["transactionId"])
    assert session.status == SessionStatus.RUNNING
    assert session.tag.id_tag == "ALICE-TAG"
    assert Transaction.objects.count() == 1  # nothing from before the acceptance
    assert ChargePoint.objects.get(charge_point_id=CHARGE_POINT_ID).registration_status == (
        "Accepted"
    )

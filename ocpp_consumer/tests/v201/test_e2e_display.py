"""A display message set through the API reaches a real 2.0.1 station over real Daphne.

The station is the `ocpp` package's v201 ChargePoint over `websockets`; it
answers SetDisplayMessage, then lists its messages (NotifyDisplayMessages)
when asked.
"""

import asyncio
import json
import urllib.request

import pytest
import websockets
from django.contrib.auth import get_user_model
from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action
from rest_framework.authtoken.models import Token

from csms_project import testing
from devicemodel.models import DisplayMessage

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

STATION_ID = "E2E-DISPLAY-201"


class Station(ChargePoint):
    """Keeps the messages it accepts and lists them when asked."""

    shown: dict[int, dict] = {}

    @on(Action.set_display_message)
    def on_set_display_message(self, message, **_):
        self.shown[message["id"]] = message
        return call_result.SetDisplayMessage(status="Accepted")

    @on(Action.get_display_messages)
    def on_get_display_messages(self, request_id, **_):
        return call_result.GetDisplayMessages(status="Accepted")

    @after(Action.get_display_messages)
    async def list_messages(self, request_id, **_):
        await self.call(
            call.NotifyDisplayMessages(
                request_id=request_id, message_info=list(self.shown.values())
            )
        )


def api(base_url: str, token: str, path: str, body: dict | None = None) -> tuple[int, object]:
    request = urllib.request.Request(
        f"{base_url}/api/v1/charge-points/{STATION_ID}/{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


async def play(ws_url: str, base_url: str, token: str) -> dict:
    answers = {}

    async def post(path: str, body: dict) -> dict:
        status, answer = await asyncio.to_thread(api, base_url, token, path, body)
        assert status == 200, answer
        return answer

    async with websockets.connect(ws_url, subprotocols=["ocpp2.0.1"]) as ws:
        station = Station(STATION_ID, ws, response_timeout=15)
        listener = asyncio.create_task(station.start())
        try:
            boot = await station.call(
                call.BootNotification(
                    charging_station={"vendor_name": "E2EVendor", "model": "Display-201"},
                    reason="PowerUp",
                )
            )
            answers["boot"] = boot.status
            answers["set"] = await post(
                "commands/set-display-message/",
                {
                    "message": {
                        "id": 1,
                        "priority": "AlwaysFront",
                        "message": {"format": "UTF8", "language": "en", "content": "Hello €"},
                    }
                },
            )
            answers["get"] = await post("commands/get-display-messages/", {"request_id": 4})
            await asyncio.to_thread(
                testing.wait_until,
                lambda: DisplayMessage.objects.filter(reported_at__isnull=False).exists(),
                15,
            )
            answers["listed"] = await asyncio.to_thread(api, base_url, token, "display-messages/")
        finally:
            listener.cancel()
    answers["shown"] = dict(Station.shown)
    return answers


def test_a_display_message_set_through_the_api_over_real_daphne(tmp_path):
    operator = get_user_model().objects.create_user(
        "ops", password="x" * 20, is_staff=True, is_superuser=True
    )
    token = Token.objects.create(user=operator).key
    env = testing.process_env(OCPP_AUTO_REGISTER="1")
    with testing.daphne_node(env, tmp_path) as base_url:
        ws_url = base_url.replace("http://", "ws://") + f"/ocpp/{STATION_ID}"
        answers = asyncio.run(play(ws_url, base_url, token))

    assert answers["boot"] == "Accepted"
    assert answers["set"] == {"status": "Accepted", "response": {"status": "Accepted"}}
    assert answers["get"] == {"status": "Accepted", "response": {"status": "Accepted"}}
    assert answers["shown"] == {
        1: {
            "id": 1,
            "priority": "AlwaysFront",
            "message": {"format": "UTF8", "language": "en", "content": "Hello €"},
        }
    }
    status, listed = answers["listed"]
    assert status == 200
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [(r["message_id"], r["priority"], r["content"], r["set_status"]) for r in rows] == [
        (1, "AlwaysFront", "Hello €", "Accepted")
    ]
    message = DisplayMessage.objects.get()
    assert (message.format, message.language) == ("UTF8", "en")

"""A driver's remote start, followed by its command id to the session (real Daphne, 1.6 and 2.0.1).

The driver's app posts the start over HTTP, the charge point (a raw
WebSocket client) accepts it and starts the session; the command then names
that session, linked by the session.started subscriber inside the server.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest
import websockets
from rest_framework.authtoken.models import Token

from api_support.testing import make_driver
from csms_project import testing
from ocpp_consumer.models import Command
from stations.models import Transaction

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

_ids = itertools.count(1)


def request(url: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class Station:
    """A charge point on a raw socket: it calls, and accepts the one command it expects."""

    def __init__(self, ws):
        self.ws = ws

    async def call(self, action: str, payload: dict) -> dict:
        unique_id = f"m{next(_ids)}"
        await self.ws.send(json.dumps([2, unique_id, action, payload]))
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), 20))
            if frame[0] == 2:  # a command meanwhile (none expected): refuse it
                await self.ws.send(json.dumps([4, frame[1], "NotImplemented", "", {}]))
                continue
            assert frame[1] == unique_id and frame[0] == 3, frame
            return frame[2]

    async def accept(self, action: str) -> dict:
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), 20))
            if frame[0] == 2 and frame[2] == action:
                await self.ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))
                return frame[3]
            if frame[0] == 2:
                await self.ws.send(json.dumps([4, frame[1], "NotImplemented", "", {}]))


def linked(command_id: int):
    return Command.objects.filter(pk=command_id).values_list("transaction_id", flat=True).first()


@pytest.fixture
def driver_token():
    user = make_driver("erin", "TAG-E")
    return Token.objects.create(user=user).key


def test_a_16_remote_start_leads_to_its_session(tmp_path, driver_token):
    with testing.daphne_node(testing.process_env(), tmp_path) as base:

        async def scenario():
            async with websockets.connect(
                f"{base.replace('http', 'ws')}/ocpp/E16", subprotocols=["ocpp1.6"]
            ) as ws:
                station = Station(ws)
                await station.call(
                    "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}
                )
                status = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
                await station.call("StatusNotification", status)
                url = f"{base}/api/v1/charge-points/E16/commands/remote-start-transaction/"
                start = asyncio.ensure_future(
                    asyncio.to_thread(
                        request, url, driver_token, {"connector_id": 1, "id_tag": "TAG-E"}
                    )
                )
                sent = await station.accept("RemoteStartTransaction")
                answer = await start
                started = await station.call(
                    "StartTransaction",
                    {"connectorId": 1, "idTag": "TAG-E", "meterStart": 0, "timestamp": now()},
                )
                command_id = answer[1]["command_id"]
                await asyncio.to_thread(testing.wait_until, lambda: linked(command_id), 20)
                followed = await asyncio.to_thread(
                    request, f"{base}/api/v1/commands/{command_id}/", driver_token
                )
                return sent, answer, started, followed

        sent, answer, started, followed = asyncio.run(scenario())

    assert sent == {"connectorId": 1, "idTag": "TAG-E"}
    assert answer[0] == 200 and answer[1]["status"] == "Accepted"
    assert followed[0] == 200, followed
    assert followed[1]["transaction"] == started["transactionId"]
    assert (followed[1]["status"], followed[1]["outcome"]) == ("answered", "Accepted")


def test_a_201_request_start_gets_the_command_id_as_remote_start_id(tmp_path, driver_token):
    with testing.daphne_node(testing.process_env(), tmp_path) as base:

        async def scenario():
            async with websockets.connect(
                f"{base.replace('http', 'ws')}/ocpp/E201", subprotocols=["ocpp2.0.1"]
            ) as ws:
                station = Station(ws)
                await station.call(
                    "BootNotification",
                    {"reason": "PowerUp", "chargingStation": {"vendorName": "V", "model": "M"}},
                )
                status = {
                    "timestamp": now(),
                    "connectorStatus": "Available",
                    "evseId": 1,
                    "connectorId": 1,
                }
                await station.call("StatusNotification", status)
                url = f"{base}/api/v1/charge-points/E201/commands/request-start-transaction/"
                body = {"evse_id": 1, "id_token": {"id_token": "TAG-E", "type": "Central"}}
                start = asyncio.ensure_future(asyncio.to_thread(request, url, driver_token, body))
                sent = await station.accept("RequestStartTransaction")
                answer = await start
                await station.call(
                    "TransactionEvent",
                    {
                        "eventType": "Started",
                        "timestamp": now(),
                        "triggerReason": "RemoteStart",
                        "seqNo": 0,
                        "transactionInfo": {
                            "transactionId": "e2e-201",
                            "remoteStartId": sent["remoteStartId"],
                        },
                        "idToken": {"idToken": "TAG-E", "type": "Central"},
                        "evse": {"id": 1, "connectorId": 1},
                    },
                )
                command_id = answer[1]["command_id"]
                await asyncio.to_thread(testing.wait_until, lambda: linked(command_id), 20)
                followed = await asyncio.to_thread(
                    request, f"{base}/api/v1/commands/{command_id}/", driver_token
                )
                return sent, answer, followed

        sent, answer, followed = asyncio.run(scenario())

    assert answer[0] == 200, answer
    command_id = answer[1]["command_id"]
    assert sent["remoteStartId"] == command_id  # none given: the command's own id
    assert followed[1]["payload"]["remote_start_id"] == command_id
    session = Transaction.objects.get(ocpp_transaction_id="e2e-201")
    assert followed[1]["transaction"] == session.pk
    assert session.remote_start_id == command_id

"""A command waiting for a slow charge point holds up no other API request (real Daphne)."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request

import pytest
import websockets
from rest_framework.authtoken.models import Token

from csms_project import testing
from drivers.models import User
from ocpp_consumer.models import Command, CommandStatus

from .test_cluster import connect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


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


def silent_command_sent() -> bool:
    return Command.objects.filter(
        charge_point__charge_point_id="SILENT", status=CommandStatus.SENT
    ).exists()


def test_other_requests_are_answered_while_a_command_waits(tmp_path):
    operator = User.objects.create_user("ops", password="x" * 20, is_staff=True, is_superuser=True)
    token = Token.objects.create(user=operator).key
    env = testing.process_env(OCPP_CALL_TIMEOUT="10")
    with testing.daphne_node(env, tmp_path) as base:
        reset_url = base + "/api/v1/charge-points/{}/commands/reset/"
        slow: dict = {}

        def reset_silent():
            slow["answer"] = request(reset_url.format("SILENT"), token, {"type": "Soft"})

        async def scenario():
            silent = await websockets.connect(
                f"{base.replace('http', 'ws')}/ocpp/SILENT", subprotocols=["ocpp1.6"]
            )
            boot = [2, "b", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]
            await silent.send(json.dumps(boot))
            await silent.recv()
            ws, client, listener = await connect(base, "QUICK")
            waiting = threading.Thread(target=reset_silent)
            try:
                waiting.start()
                await asyncio.to_thread(testing.wait_until, silent_command_sent, 20)
                quick = await asyncio.to_thread(
                    request, reset_url.format("QUICK"), token, {"type": "Hard"}
                )
                listing = await asyncio.to_thread(request, base + "/api/v1/charge-points/", token)
                still_waiting = waiting.is_alive()
                await asyncio.to_thread(waiting.join, 60)
            finally:
                listener.cancel()
                await ws.close()
                await silent.close()
            return quick, listing, still_waiting, client.resets

        quick, listing, still_waiting, resets = asyncio.run(scenario())

    assert quick == (200, {"status": "Accepted", "response": {"status": "Accepted"}})
    assert resets == ["Hard"]
    assert listing[0] == 200 and listing[1]["count"] == 2
    # Both were answered while the silent charge point's command still waited...
    assert still_waiting
    # ...which then ended as a timeout.
    assert slow["answer"][0] == 504

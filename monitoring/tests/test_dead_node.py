"""A node killed with SIGKILL: noticed in seconds by the surviving node (real Daphne, private Redis).

Node A holds a charge point's socket and a command in flight, sent through
an API request that A serves itself. A is killed: nothing of it says
goodbye. Node B, with no Celery worker anywhere, finds A silent past
MONITORING_NODE_DEAD_AFTER_SECONDS: the charge point shows offline, the
command ends, commands to the charge point are refused at once, and the
caller's retry with the same Idempotency-Key runs again.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request

import pytest
import websockets
from rest_framework.authtoken.models import Token

from csms_project import testing
from drivers.models import User
from monitoring.models import Node
from monitoring.selectors import node_for_channel
from ocpp_consumer.commands.lost import NODE_LOST
from ocpp_consumer.models import Command, CommandStatus
from stations.models import ChargePoint

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HEARTBEAT_SECONDS = 1
DEAD_AFTER_SECONDS = 4
# Dead-after, one beat of the survivor, and room for a loaded test machine.
NOTICED_WITHIN = DEAD_AFTER_SECONDS + HEARTBEAT_SECONDS + 5
CHARGE_POINT_ID = "DOOMED"
KEY = "retry-after-crash"


def post_command(base_url: str, token: str, key: str | None = None) -> tuple[int, dict, float]:
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    request = urllib.request.Request(
        f"{base_url}/api/v1/charge-points/{CHARGE_POINT_ID}/commands/reset/",
        data=json.dumps({"type": "Soft"}).encode(),
        headers=headers,
        method="POST",
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read()), time.monotonic() - started
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), time.monotonic() - started


async def connect(base_url: str):
    ws = await websockets.connect(
        f"{base_url.replace('http', 'ws')}/ocpp/{CHARGE_POINT_ID}", subprotocols=["ocpp1.6"]
    )
    for unique_id, action, payload in (
        ("boot", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}),
        (
            "status",
            "StatusNotification",
            {"connectorId": 1, "status": "Available", "errorCode": "NoError"},
        ),
    ):
        await ws.send(json.dumps([2, unique_id, action, payload]))
        assert json.loads(await ws.recv())[0] == 3
    return ws


def in_thread(func, *args):
    """Run ORM code off the event loop (pytest's connection is not thread-safe)."""
    from django.db import connection

    def run():
        try:
            return func(*args)
        finally:
            connection.close()

    return asyncio.to_thread(run)


def charge_point() -> ChargePoint:
    return ChargePoint.objects.get(charge_point_id=CHARGE_POINT_ID)


def command_sent() -> Command | None:
    return Command.objects.filter(status=CommandStatus.SENT).first()


def node_holding_socket() -> Node | None:
    online = ChargePoint.objects.filter(charge_point_id=CHARGE_POINT_ID, is_online=True).first()
    return node_for_channel(channel_name=online.connection_channel) if online else None


def test_a_killed_node_is_noticed_in_seconds(tmp_path):
    operator = User.objects.create_user("ops", password="x" * 20, is_staff=True, is_superuser=True)
    token = Token.objects.create(user=operator).key
    with testing.private_redis(tmp_path) as redis:
        env = testing.process_env(
            REDIS_URL=redis.url,
            CHANNEL_LAYER_PREFIX=f"dead-{tmp_path.name}"[:40],
            MONITORING_NODE_HEARTBEAT_SECONDS=str(HEARTBEAT_SECONDS),
            MONITORING_NODE_DEAD_AFTER_SECONDS=str(DEAD_AFTER_SECONDS),
            OCPP_CALL_TIMEOUT="30",
        )
        port_a, port_b = testing.free_port(), testing.free_port()
        daphne = [str(testing.BIN_DIR / "daphne"), "-b", "127.0.0.1", "-p"]
        app = "csms_project.asgi:application"
        with (
            testing.running([*daphne, str(port_a), app], env, tmp_path / "a.log") as node_a,
            testing.running([*daphne, str(port_b), app], env, tmp_path / "b.log"),
        ):
            url_a, url_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
            testing.wait_for_http(f"{url_a}/healthz")
            testing.wait_for_http(f"{url_b}/healthz")

            async def scenario() -> dict:
                seen: dict = {}
                ws = await connect(url_a)
                holder = await in_thread(testing.wait_until, node_holding_socket, 20)
                assert holder.pid == node_a.pid
                in_flight = threading.Thread(
                    target=lambda: seen.update(
                        lost_request=_quietly(post_command, url_a, token, KEY)
                    )
                )
                in_flight.start()
                call = json.loads(await asyncio.wait_for(ws.recv(), 20))  # the Reset: not answered
                assert call[2] == "Reset"
                seen["command"] = await in_thread(testing.wait_until, command_sent, 20)

                node_a.kill()  # SIGKILL: no disconnect, no atexit
                killed = time.monotonic()
                await in_thread(
                    testing.wait_until, lambda: not charge_point().is_online, NOTICED_WITHIN + 5
                )
                seen["noticed_after"] = time.monotonic() - killed
                seen["connector"] = await in_thread(
                    lambda: charge_point().connectors.get(connector_id=1).status
                )
                seen["refused"] = await asyncio.to_thread(post_command, url_b, token)
                await asyncio.to_thread(in_flight.join, 10)

                ws = await connect(url_b)  # the charge point comes back, on B

                async def answer_reset():
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 20))
                    await ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))
                    return frame[2]

                answering = asyncio.create_task(answer_reset())
                seen["retry"] = await asyncio.to_thread(post_command, url_b, token, KEY)
                seen["answered"] = await answering
                await ws.close()
                return seen

            seen = asyncio.run(scenario())

    assert seen["noticed_after"] < NOTICED_WITHIN, seen["noticed_after"]
    lost = Command.objects.get(pk=seen["command"].pk)
    assert (lost.status, lost.error_description) == (CommandStatus.OFFLINE, NODE_LOST)
    assert seen["connector"] == "Unavailable"
    status, body, took = seen["refused"]
    assert status == 409 and took < 3, seen["refused"]
    assert seen["lost_request"] is None  # the caller on A lost its answer with A
    status, body, _ = seen["retry"]
    assert status == 200 and body["status"] == "Accepted", seen["retry"]
    assert seen["answered"] == "Reset"
    assert Command.objects.filter(status=CommandStatus.ANSWERED).count() == 1


def _quietly(func, *args):
    """The result, or None when the server died under the request."""
    try:
        return func(*args)
    except OSError:
        return None

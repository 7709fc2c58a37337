"""Two Daphne nodes sharing the database and Redis, as in a cluster.

Runs only with REDIS_URL set (as in CI): the in-process channel layer cannot
reach another process.
"""

import asyncio
import json
import os
import subprocess
import sys
import urllib.request

import pytest
import websockets
from django.db import connection
from ocpp.routing import on
from ocpp.v16 import ChargePoint as OcppClient
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action, ResetStatus

from csms_project import testing
from ocpp_consumer.models import Command, CommandStatus
from stations.models import ChargePoint

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL"),
]


class SimulatedChargePoint(OcppClient):
    """Answers Reset with Accepted and remembers it was asked."""

    resets: list

    @on(Action.reset)
    def on_reset(self, type, **kwargs):  # noqa: A002 - the OCPP field is named "type"
        self.resets.append(type)
        return call_result.Reset(status=ResetStatus.accepted)


async def connect(base_url: str, charge_point_id: str):
    ws = await websockets.connect(
        f"{base_url.replace('http', 'ws')}/ocpp/{charge_point_id}", subprotocols=["ocpp1.6"]
    )
    client = SimulatedChargePoint(charge_point_id, ws, response_timeout=10)
    client.resets = []
    listener = asyncio.create_task(client.start())
    await client.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
    return ws, client, listener


def run_cli_command(env, charge_point_id, action, payload):
    return subprocess.run(
        [sys.executable, "manage.py", "ocpp_command", charge_point_id, action, json.dumps(payload)],
        cwd=testing.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def fetch_charge_point(charge_point_id):
    """Read from a worker thread, closing that thread's connection after."""
    try:
        return ChargePoint.objects.get(charge_point_id=charge_point_id)
    finally:
        connection.close()


@pytest.fixture
def cluster(tmp_path):
    env = testing.process_env(CHANNEL_LAYER_PREFIX=f"cluster-{tmp_path.name}"[:40])
    with testing.daphne_node(env, tmp_path) as node_a, testing.daphne_node(env, tmp_path) as node_b:
        yield env, node_a, node_b


def test_command_from_another_process_reaches_the_node_holding_the_socket(cluster):
    env, node_a, _ = cluster

    async def scenario():
        ws, client, listener = await connect(node_a, "CLUSTER-1")
        try:
            result = await asyncio.to_thread(
                run_cli_command, env, "CLUSTER-1", "Reset", {"type": "Hard"}
            )
        finally:
            listener.cancel()
            await ws.close()
        return result, client.resets

    result, resets = asyncio.run(scenario())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"status": "Accepted"}
    assert resets == ["Hard"]
    command = Command.objects.get()
    assert (command.action, command.status, command.source) == (
        "Reset",
        CommandStatus.ANSWERED,
        "cli",
    )


def test_reconnecting_on_another_node_closes_the_first_socket(cluster):
    _, node_a, node_b = cluster

    async def scenario():
        ws_a, _, listener_a = await connect(node_a, "CLUSTER-2")
        ws_b, _, listener_b = await connect(node_b, "CLUSTER-2")
        try:
            await asyncio.wait_for(ws_a.wait_closed(), 10)
            closed_code = ws_a.close_code
            await asyncio.sleep(0.5)  # let node A run its disconnect
            still_open = ws_b.state.name == "OPEN"
            charge_point = await asyncio.to_thread(fetch_charge_point, "CLUSTER-2")
        finally:
            listener_a.cancel()
            listener_b.cancel()
            await ws_b.close()
        return closed_code, still_open, charge_point

    closed_code, still_open, charge_point = asyncio.run(scenario())
    assert closed_code == 4001
    assert still_open
    # Node A's disconnect of the replaced socket did not mark the charge point offline.
    assert charge_point.is_online and charge_point.connection_channel.startswith("specific.")


def test_command_to_a_charge_point_connected_nowhere_is_offline(cluster):
    env, node_a, _ = cluster

    async def scenario():
        ws, _, listener = await connect(node_a, "CLUSTER-3")
        listener.cancel()
        await ws.close()
        await asyncio.sleep(0.5)

    asyncio.run(scenario())
    result = run_cli_command(env, "CLUSTER-3", "Reset", {"type": "Soft"})
    assert result.returncode == 1
    assert "not connected" in result.stderr
    assert Command.objects.get().status == CommandStatus.OFFLINE


def test_command_through_the_api_of_the_other_node(cluster):
    """Node A holds the socket; an operator's API call lands on node B."""
    from rest_framework.authtoken.models import Token

    from drivers.models import User

    _, node_a, node_b = cluster
    operator = User.objects.create_user("ops", password="x" * 20, is_staff=True, is_superuser=True)
    token = Token.objects.create(user=operator).key

    def post_reset():
        request = urllib.request.Request(
            f"{node_b}/api/v1/charge-points/CLUSTER-4/commands/reset/",
            data=json.dumps({"type": "Soft"}).encode(),
            headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())

    async def scenario():
        ws, client, listener = await connect(node_a, "CLUSTER-4")
        try:
            answer = await asyncio.to_thread(post_reset)
        finally:
            listener.cancel()
            await ws.close()
        return answer, client.resets

    (status, body), resets = asyncio.run(scenario())
    assert status == 200
    assert body == {"status": "Accepted", "response": {"status": "Accepted"}}
    assert resets == ["Soft"]

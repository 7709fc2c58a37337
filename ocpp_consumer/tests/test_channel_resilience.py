"""Charge point sockets through an outage of the channel layer (a switchable in-memory layer).

The real-process version, with a redis-server that is stopped, is
test_redis_outage.py; here each step is checked on its own.
"""

from __future__ import annotations

import asyncio
from unittest import mock

import pytest
from asgiref.sync import sync_to_async

from api_support.testing import client_for, make_operator
from monitoring import channel_health
from monitoring.channel_health import health
from monitoring.tests.layers import SwitchableLayer
from ocpp_consumer import commands
from ocpp_consumer.commands.records import UNROUTABLE
from ocpp_consumer.identity import charge_point_group
from ocpp_consumer.models import Command, CommandStatus
from stations.models import ChargePoint

from .conftest import TIMEOUT, assert_call_result
from .test_api_commands import api_post

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def layer(channel_layer):
    """What consumers, commands and the probe use: a layer that can be stopped."""
    switchable = SwitchableLayer()
    health.reset()
    health.probe = switchable.probe
    with (
        mock.patch("monitoring.channel_health.get_channel_layer", return_value=switchable),
        mock.patch("ocpp_consumer.commands.delivery.get_channel_layer", return_value=switchable),
    ):
        yield switchable
    health.reset()
    health.probe = channel_health._default_probe


async def until(predicate, timeout=TIMEOUT):
    """Wait for a condition of this process's memory (no database)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def group_of(layer, charge_point_id):
    return layer.members(charge_point_group(charge_point_id))


async def test_the_socket_stays_open_and_is_answered_then_joins_again(layer, charge_point_socket):
    socket = await charge_point_socket("CP1")
    assert len(group_of(layer, "CP1")) == 1

    layer.stop()
    await until(lambda: health.is_down)  # its receive failed
    await socket.assert_usable()
    result = await socket.call(
        "StartTransaction",
        {
            "connectorId": 1,
            "idTag": "TAG",
            "meterStart": 0,
            "timestamp": "2026-01-01T00:00:00Z",
        },
    )
    assert assert_call_result(result, result[1])["transactionId"]
    assert await socket.receive_nothing(timeout=0.3)  # not closed

    layer.inner.groups.clear()  # a restarted Redis forgot the groups
    layer.start()
    await until(lambda: len(group_of(layer, "CP1")) == 1)
    await socket.assert_usable()


async def test_a_handshake_during_an_outage_is_accepted_and_replaces_the_old_socket_later(
    layer, handshake
):
    connected, old = await handshake("/ocpp/CP1")
    assert connected
    await old.boot()
    layer.stop()
    health.failed("receive", ConnectionError("down"))

    connected, new = await handshake("/ocpp/CP1")
    assert connected  # not a 500
    await new.boot()
    await old.assert_usable()  # nobody could tell it yet

    layer.start()
    closed = await old.receive_output(timeout=TIMEOUT)
    assert closed == {"type": "websocket.close", "code": 4001}
    await old.disconnect()  # what the server does after its close
    await new.assert_usable()

    # The new socket is in the group and, though the old one spoke last, on record.
    def settled():
        charge_point = ChargePoint.objects.get(charge_point_id="CP1")
        members = group_of(layer, "CP1")
        return charge_point.is_online and members == {charge_point.connection_channel}

    for _ in range(100):
        if await sync_to_async(settled)():
            break
        await asyncio.sleep(0.05)
    assert await sync_to_async(settled)()
    await new.assert_usable()


async def test_a_command_during_an_outage_fails_at_once_and_says_why(layer, charge_point_socket):
    await charge_point_socket("CP1")
    layer.stop()
    with pytest.raises(commands.CommandsUnavailable):
        await commands.command_send(charge_point_id="CP1", action="Reset", payload={"type": "Soft"})
    command = await sync_to_async(Command.objects.get)()
    assert (command.status, command.error_code) == (CommandStatus.FAILED, UNROUTABLE)
    assert "channel layer" in command.error_description


async def test_the_api_answers_503_and_the_idempotency_key_can_be_retried(
    layer, charge_point_socket
):
    socket = await charge_point_socket("CP1")
    client = await sync_to_async(lambda: client_for(make_operator("stations.change_chargepoint")))()
    path, body = "/api/v1/charge-points/CP1/commands/reset/", {"type": "Soft"}
    headers = {"Idempotency-Key": "retry-me"}
    layer.stop()
    response = await api_post(client, path, body, headers)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"].startswith("Commands cannot be routed to charge points")

    layer.start()
    await health.wait_up()
    pending = api_post(client, path, body, headers)
    frame = await socket.next_frame()
    assert frame[2] == "Reset"
    await socket.send_text(f'[3, "{frame[1]}", {{"status": "Accepted"}}]')
    response = await pending
    assert response.status_code == 200, response.content
    assert "Idempotent-Replayed" not in response

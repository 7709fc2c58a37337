"""monitoring.channel_health: outages of the channel layer are noticed, survived and healed."""

from __future__ import annotations

import asyncio
import logging
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from channels.exceptions import ChannelFull
from channels_redis.core import RedisChannelLayer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from csms_project import testing
from monitoring import channel_health
from monitoring.channel_health import CHANNEL_LAYER_UP, health, layer_unreachable
from monitoring.live import DASHBOARD_GROUP
from stations import services

from .layers import SwitchableLayer, receives_survive_a_redis_restart
from .test_consumers import open_dashboard

TIMEOUT = 5


@pytest.fixture(autouse=True)
def _layer_up():
    health.reset()
    yield
    health.reset()
    health.probe = channel_health._default_probe


@pytest.fixture
def layer():
    """The switchable layer, seen by consumers, pushes and the probe."""
    switchable = SwitchableLayer()
    health.probe = switchable.probe
    with (
        mock.patch("monitoring.channel_health.get_channel_layer", return_value=switchable),
        mock.patch("monitoring.live.get_channel_layer", return_value=switchable),
    ):
        yield switchable


def test_outage_errors_are_told_from_bugs():
    assert layer_unreachable(RedisConnectionError("refused"))
    assert layer_unreachable(RedisTimeoutError("slow"))
    assert layer_unreachable(ConnectionRefusedError())
    assert layer_unreachable(TimeoutError())
    assert not layer_unreachable(ValueError("a bug"))
    assert not layer_unreachable(ChannelFull())


def test_one_warning_per_outage_and_one_when_it_ends(caplog):
    caplog.set_level(logging.INFO, logger="monitoring.channel_health")
    for _ in range(50):
        health.failed("receive", RedisConnectionError("refused"))
    assert health.is_down and CHANNEL_LAYER_UP._value.get() == 0
    health.ok()
    health.ok()
    assert not health.is_down and CHANNEL_LAYER_UP._value.get() == 1
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert messages[0].startswith("channel layer unreachable (receive: ConnectionError: refused)")
    assert messages[1].startswith("channel layer reachable again after")
    assert "(50 failed calls)" in messages[1]


def test_while_down_a_dropping_caller_tries_only_now_and_then():
    health.failed("dashboard push", RedisConnectionError("refused"))
    assert health.may_try() is False
    health._next_try = 0.0  # the retry interval passed
    assert health.may_try() is True
    assert health.may_try() is False  # one caller per interval


async def test_waiters_wake_when_the_probe_finds_the_layer_back(layer):
    layer.stop()
    health.failed("receive", RedisConnectionError("refused"))
    waiter = asyncio.ensure_future(health.wait_up())
    await asyncio.sleep(0.6)  # the probe asked at least twice
    assert not waiter.done()
    layer.start()
    await asyncio.wait_for(waiter, TIMEOUT)
    assert not health.is_down


async def test_a_call_nobody_waits_for_is_dropped_while_down_and_runs_when_back(layer):
    outcomes = []
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    layer.stop()
    await sync_to_async(channel_health.call_soon)(
        "push", lambda: layer.group_send("g", {"type": "x"}), outcomes.append
    )
    await asyncio.sleep(0.1)
    assert outcomes == ["dropped"] and health.is_down
    await sync_to_async(channel_health.call_soon)(
        "push", lambda: layer.group_send("g", {"type": "x"}), outcomes.append
    )
    assert outcomes == ["dropped", "dropped"]  # not even tried
    layer.start()
    await health.wait_up()
    await sync_to_async(channel_health.call_soon)(
        "push", lambda: layer.group_send("g", {"type": "y"}), outcomes.append
    )
    assert (await asyncio.wait_for(layer.receive(channel), TIMEOUT))["type"] == "y"
    assert outcomes[-1] == "sent"


async def receive_type(dashboard, wanted: str) -> dict:
    while True:
        message = await dashboard.receive_json_from(timeout=TIMEOUT)
        if message["type"] == wanted:
            return message


@pytest.mark.django_db(transaction=True)
async def test_a_dashboard_survives_an_outage_and_resumes_by_itself(layer, staff):
    charge_point = await sync_to_async(services.chargepoint_create)(charge_point_id="CP-OUT")
    connected, dashboard = await open_dashboard(staff)
    assert connected
    assert (await dashboard.receive_json_from(timeout=TIMEOUT))["type"] == "snapshot"
    assert len(layer.members(DASHBOARD_GROUP)) == 1

    layer.stop()  # Redis goes away: the consumer's receive fails
    assert await receive_type(dashboard, "live") == {"type": "live", "state": "degraded"}
    await dashboard.send_json_to({"type": "refresh"})  # the socket still serves
    assert (await dashboard.receive_json_from(timeout=TIMEOUT))["type"] == "snapshot"

    layer.inner.groups.clear()  # a restarted Redis forgot the groups
    layer.start()
    assert await receive_type(dashboard, "live") == {"type": "live", "state": "live"}
    assert (await dashboard.receive_json_from(timeout=TIMEOUT))["type"] == "snapshot"
    assert len(layer.members(DASHBOARD_GROUP)) == 1  # joined again

    # Pushes flow again.
    await sync_to_async(services.connector_status_update)(
        charge_point_pk=charge_point.pk, connector_id=1, status="Faulted", error_code="NoError"
    )
    pushed = await receive_type(dashboard, "charge_points")
    assert pushed["charge_points"][0]["connectors"][0]["status"] == "Faulted"
    await dashboard.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_dashboard_opened_during_an_outage_says_so(layer, staff):
    layer.stop()
    health.failed("receive", RedisConnectionError("refused"))
    connected, dashboard = await open_dashboard(staff)
    assert connected  # not a 500 at the handshake
    assert (await dashboard.receive_json_from(timeout=TIMEOUT))["type"] == "snapshot"
    assert await receive_type(dashboard, "live") == {"type": "live", "state": "degraded"}
    layer.start()
    assert await receive_type(dashboard, "live") == {"type": "live", "state": "live"}
    assert len(layer.members(DASHBOARD_GROUP)) == 1
    await dashboard.disconnect()


@pytest.fixture
async def staff(django_user_model):
    return await django_user_model.objects.acreate(username="op", is_staff=True)


class Receiver(channel_health.ResilientChannelReceiveMixin):
    """Just the consumer's channel side: its layer, its channel, its resilient receive."""

    def __init__(self, layer, channel_name):
        self.channel_layer, self.channel_name = layer, channel_name


@pytest.mark.e2e
@pytest.mark.redis
async def test_channels_redis_receives_survive_a_redis_restart(tmp_path):
    """Against channels-redis itself: the receives of one process share one BZPOPMIN.

    When redis-server stops, the receive holding the shared receive lock
    fails ("Connection closed by server"); the others then take the lock in
    turn and fail at once (connection refused). Each reports the outage once
    and waits; after the restart all receive again, on new connections.
    """
    with testing.private_redis(tmp_path) as redis:
        layer = RedisChannelLayer(hosts=[{"address": redis.url, "socket_timeout": 30}])
        health.probe = lambda: layer.connection(0).ping()
        receivers = [Receiver(layer, await layer.new_channel()) for _ in range(3)]
        await receives_survive_a_redis_restart(
            layer, redis, receivers, Receiver._resilient_channel_receive, TIMEOUT
        )
        await layer.flush()
        await layer.close_pools()

"""The service registry: ASGI processes and Celery workers with their heartbeat."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from types import SimpleNamespace

import pytest
from celery.signals import worker_ready, worker_shutdown
from django.utils import timezone

from csms_project.testing import wait_until
from monitoring import nodes, services
from monitoring.models import Node, NodeKind
from monitoring.selectors import channel_client_prefix, channel_stem, node_for_channel
from stations.models import ChargePoint

REDIS_CHANNEL = "specific.0c4f9a3e5b!7d1e"
MEMORY_CHANNEL = "specific..inmemory!AbCdEf"


def test_channel_names_tell_the_process():
    assert channel_client_prefix(REDIS_CHANNEL) == "0c4f9a3e5b"
    assert channel_stem(REDIS_CHANNEL) == "specific.0c4f9a3e5b!"
    assert channel_client_prefix(MEMORY_CHANNEL) == "inmemory"
    assert channel_client_prefix("") == "" and channel_stem("no-bang") == ""


@pytest.mark.django_db
def test_register_beat_and_stop():
    node = services.node_register(
        node_id="asgi-1", kind=NodeKind.ASGI, hostname="h", pid=7, channel_prefix="0c4f9a3e5b"
    )
    again = services.node_register(
        node_id="asgi-1", kind=NodeKind.ASGI, hostname="h", pid=7, channel_prefix="0c4f9a3e5b"
    )
    assert again.pk == node.pk and again.started_at == node.started_at
    ChargePoint.objects.create(
        charge_point_id="A", is_online=True, connection_channel=REDIS_CHANNEL
    )
    ChargePoint.objects.create(
        charge_point_id="B", is_online=True, connection_channel="specific.other!1"
    )
    ChargePoint.objects.create(
        charge_point_id="C", is_online=False, connection_channel=REDIS_CHANNEL
    )
    assert services.node_beat(node_id="asgi-1", channel_stem="specific.0c4f9a3e5b!") == 1
    node.refresh_from_db()
    assert node.connected_charge_points == 1
    assert node.is_alive()
    assert services.node_beat(node_id="unknown") == 0
    services.node_stop(node_id="asgi-1")
    node.refresh_from_db()
    assert node.stopped_at is not None and not node.is_alive()


@pytest.mark.django_db
def test_a_silent_node_is_dead_and_a_long_dead_one_is_forgotten(settings):
    settings.MONITORING_NODE_HEARTBEAT_SECONDS = 10
    now = timezone.now()
    for node_id, seen in (("recent", 5), ("silent", 31), ("ancient", 8 * 86400)):
        Node.objects.create(
            node_id=node_id,
            kind=NodeKind.CELERY,
            hostname="h",
            pid=1,
            started_at=now,
            last_seen=now - timedelta(seconds=seen),
        )
    assert Node.objects.get(node_id="recent").is_alive()
    assert not Node.objects.get(node_id="silent").is_alive()
    services.node_register(node_id="new", kind=NodeKind.ASGI, hostname="h", pid=2)
    assert set(Node.objects.values_list("node_id", flat=True)) == {"recent", "silent", "new"}


@pytest.mark.django_db
def test_the_node_holding_a_socket_is_found_by_its_channel():
    now = timezone.now()
    old = Node.objects.create(
        node_id="old",
        kind=NodeKind.ASGI,
        hostname="h",
        pid=1,
        channel_prefix="inmemory",
        started_at=now,
        last_seen=now - timedelta(hours=1),
        stopped_at=now,
    )
    new = Node.objects.create(
        node_id="new",
        kind=NodeKind.ASGI,
        hostname="h",
        pid=2,
        channel_prefix="inmemory",
        started_at=now,
        last_seen=now,
    )
    assert node_for_channel(channel_name=MEMORY_CHANNEL) == new
    assert node_for_channel(channel_name=REDIS_CHANNEL) is None
    assert node_for_channel(channel_name="") is None
    assert old.pk != new.pk


@pytest.mark.django_db(transaction=True)
async def test_the_asgi_heartbeat_registers_and_beats(channel_layer):
    node = nodes.current()
    task = asyncio.get_running_loop().create_task(nodes.asgi_heartbeat(node, interval=0.05))
    try:
        registered = None
        for _ in range(100):
            registered = await Node.objects.filter(node_id=node.node_id).afirst()
            if registered:
                break
            await asyncio.sleep(0.02)
        assert registered is not None
        assert (registered.kind, registered.pid) == (NodeKind.ASGI, node.pid)
        assert registered.channel_prefix == channel_client_prefix(await channel_layer.new_channel())
        first_seen = registered.last_seen
        await asyncio.sleep(0.2)
        await registered.arefresh_from_db()
        assert registered.last_seen > first_seen
    finally:
        task.cancel()


def test_start_with_daphne_waits_for_the_reactor(monkeypatch):
    calls = []
    fake = SimpleNamespace(callWhenRunning=calls.append)
    monkeypatch.setitem(sys.modules, "twisted.internet.reactor", fake)
    assert nodes.start_with_daphne() is True
    assert len(calls) == 1  # nothing started until the reactor runs
    monkeypatch.delitem(sys.modules, "twisted.internet.reactor")
    assert nodes.start_with_daphne() is False


@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_registers_beats_and_stops(settings):
    settings.MONITORING_NODE_HEARTBEAT_SECONDS = 0.05

    class Consumer:  # what Celery sends worker_ready from
        hostname = "worker1@box"

    worker_ready.send(sender=Consumer())
    try:
        node = nodes.current()
        assert node.kind == NodeKind.CELERY and "worker1@box" in node.node_id

        def beats():
            row = Node.objects.filter(node_id=node.node_id).first()
            return row if row and row.last_seen > row.started_at else None

        row = wait_until(beats, timeout=5, interval=0.05)
        assert row.kind == NodeKind.CELERY and row.stopped_at is None
    finally:
        worker_shutdown.send(sender=None)
    row.refresh_from_db()
    assert row.stopped_at is not None


@pytest.mark.django_db(transaction=True)
async def test_watchers_register_the_process_when_it_has_no_heartbeat(channel_layer):
    await nodes.watchers_changed(+1, channel_name=REDIS_CHANNEL)
    row = await Node.objects.aget(node_id=nodes.current().node_id)
    assert (row.dashboard_watchers, row.channel_prefix) == (1, "0c4f9a3e5b")
    await nodes.watchers_changed(-1, channel_name=REDIS_CHANNEL)
    await nodes.watchers_changed(-1, channel_name=REDIS_CHANNEL)  # never below zero
    await row.arefresh_from_db()
    assert row.dashboard_watchers == 0


@pytest.mark.django_db(transaction=True)
def test_node_stop_at_exit_never_raises(monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(services, "node_stop", broken)
    nodes.node_stop_sync("any")
    assert "could not mark node any stopped" in caplog.text

"""Dead nodes: their charge points go offline, their commands end, and nobody waits for them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring import services
from monitoring.liveness import channel_node_lost, chargepoint_reachable, node_known_dead
from monitoring.models import Node, NodeKind
from ocpp_consumer.commands import ChargePointOffline, command_send_sync
from ocpp_consumer.commands.lost import NODE_LOST
from ocpp_consumer.commands.records import command_mark_abandoned_by_socket
from ocpp_consumer.models import Command, CommandStatus
from stations.choices import ConnectorStatus
from stations.models import ChargePoint, Connector

pytestmark = pytest.mark.django_db

DEAD_CHANNEL = "specific.deadbeef!abc"
LIVE_CHANNEL = "specific.cafe01!xyz"


@pytest.fixture(autouse=True)
def _timing(settings):
    settings.MONITORING_NODE_HEARTBEAT_SECONDS = 10
    settings.MONITORING_NODE_DEAD_AFTER_SECONDS = 30


def make_node(node_id: str, prefix: str, *, silent: float = 0, steady: float = 120, **fields):
    now = timezone.now()
    return Node.objects.create(
        node_id=node_id,
        kind=fields.pop("kind", NodeKind.ASGI),
        hostname="h",
        pid=1,
        channel_prefix=prefix,
        started_at=now - timedelta(hours=1),
        last_seen=now - timedelta(seconds=silent),
        beating_since=now - timedelta(seconds=steady),
        **fields,
    )


def online(charge_point_id: str, channel: str) -> ChargePoint:
    charge_point = ChargePoint.objects.create(
        charge_point_id=charge_point_id, is_online=True, connection_channel=channel
    )
    Connector.objects.create(charge_point=charge_point, connector_id=1, status="Charging")
    return charge_point


def test_a_silent_node_loses_its_charge_points_and_their_unfinished_commands():
    make_node("survivor", "cafe01")
    make_node("killed", "deadbeef", silent=45)
    lost = online("ON-DEAD", DEAD_CHANNEL)
    kept = online("ON-LIVE", LIVE_CHANNEL)
    sent = Command.objects.create(charge_point=lost, action="Reset", status=CommandStatus.SENT)
    answered = Command.objects.create(
        charge_point=lost, action="Reset", status=CommandStatus.ANSWERED
    )
    elsewhere = Command.objects.create(charge_point=kept, action="Reset")

    swept = services.node_sweep_lost()

    assert [(node.node_id, node.charge_points, node.commands) for node in swept] == [
        ("killed", [lost.pk], 1)
    ]
    lost.refresh_from_db()
    assert (lost.is_online, lost.connection_channel) == (False, "")
    assert lost.connectors.get().status == ConnectorStatus.UNAVAILABLE
    assert ChargePoint.objects.get(pk=kept.pk).is_online
    sent.refresh_from_db()
    assert (sent.status, sent.error_description) == (CommandStatus.OFFLINE, NODE_LOST)
    assert Command.objects.get(pk=answered.pk).status == CommandStatus.ANSWERED
    assert Command.objects.get(pk=elsewhere.pk).status == CommandStatus.PENDING
    assert Node.objects.get(node_id="killed").lost_at is not None
    assert services.node_sweep_lost() == []  # once


def test_a_newer_connection_on_a_live_node_is_left_alone():
    make_node("survivor", "cafe01")
    make_node("killed", "deadbeef", silent=45)
    moved = online("MOVED", LIVE_CHANNEL)  # reconnected to the survivor before the sweep
    assert services.node_sweep_lost()[0].charge_points == []
    assert ChargePoint.objects.get(pk=moved.pk).connection_channel == LIVE_CHANNEL


def test_a_stopped_node_is_swept_at_once():
    make_node("survivor", "cafe01")
    make_node("stopped", "deadbeef", stopped_at=timezone.now())
    lost = online("ON-STOPPED", DEAD_CHANNEL)
    assert services.node_sweep_lost()[0].charge_points == [lost.pk]


def test_nothing_is_swept_before_some_node_beat_steadily_for_the_dead_after_time():
    # Right after a database outage every node looks silent: the survivor's
    # new run of beats is younger than the dead-after time.
    make_node("survivor", "cafe01", steady=5)
    make_node("killed", "deadbeef", silent=45)
    lost = online("ON-DEAD", DEAD_CHANNEL)
    assert services.node_sweep_lost() == []
    assert ChargePoint.objects.get(pk=lost.pk).is_online


def test_a_prefix_shared_with_a_live_node_sweeps_nothing():
    make_node("new", "inmemory")
    make_node("old", "inmemory", silent=3600)
    shared = online("SHARED", "specific..inmemory!q")
    assert services.node_sweep_lost()[0].charge_points == []
    assert ChargePoint.objects.get(pk=shared.pk).is_online


def test_a_beat_starts_a_new_run_after_a_gap_and_revives_a_lost_node():
    node = make_node("back", "deadbeef", silent=45, lost_at=timezone.now())
    old_run = node.beating_since
    services.node_beat(node_id="back")
    node.refresh_from_db()
    assert node.lost_at is None and node.beating_since > old_run
    steady = node.beating_since
    services.node_beat(node_id="back")
    node.refresh_from_db()
    assert node.beating_since == steady  # no gap: the same run


def test_liveness_of_channels_and_nodes():
    make_node("survivor", "cafe01")
    make_node("killed", "deadbeef", silent=45)
    assert channel_node_lost(channel_name=DEAD_CHANNEL)
    assert not channel_node_lost(channel_name=LIVE_CHANNEL)
    assert not channel_node_lost(channel_name="specific.unknown!1")  # outside the registry
    assert not channel_node_lost(channel_name="")
    assert node_known_dead(node_id="killed") and not node_known_dead(node_id="survivor")
    assert not node_known_dead(node_id="never-registered")
    charge_point = online("ON-DEAD", DEAD_CHANNEL)
    assert not chargepoint_reachable(charge_point=charge_point)
    assert chargepoint_reachable(charge_point=online("ON-LIVE", LIVE_CHANNEL))


def test_a_command_to_a_charge_point_on_a_dead_node_is_refused_at_once():
    make_node("killed", "deadbeef", silent=45)
    online("ON-DEAD", DEAD_CHANNEL)  # not swept yet: its row still says online
    with pytest.raises(ChargePointOffline):
        command_send_sync(charge_point_id="ON-DEAD", action="Reset", payload={"type": "Soft"})
    assert Command.objects.get().status == CommandStatus.OFFLINE


def test_a_caller_waiting_on_another_node_sees_the_swept_command_end():
    make_node("survivor", "cafe01")
    make_node("killed", "deadbeef", silent=45)
    lost = online("ON-DEAD", DEAD_CHANNEL)
    sent = Command.objects.create(charge_point=lost, action="Reset", status=CommandStatus.SENT)
    # delivery.py asks this every second while it waits for the reply.
    assert not command_mark_abandoned_by_socket(command_id=sent.pk, channel=DEAD_CHANNEL)
    services.node_sweep_lost()
    assert command_mark_abandoned_by_socket(command_id=sent.pk, channel=DEAD_CHANNEL)
    assert Command.objects.get(pk=sent.pk).status == CommandStatus.OFFLINE

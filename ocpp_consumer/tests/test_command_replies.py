"""The fast command path's Redis pieces, against a real redis-server of the test's own.

- layer_send_one_trip puts a command event where channels-redis's ordinary
  `receive` finds it (the consumer's side is unchanged), and keeps the
  layer's capacity;
- a caller's reply list wakes it with the outcome, which is the row as the
  consumer wrote it.
"""

from __future__ import annotations

import pytest
from channels.exceptions import ChannelFull
from channels_redis.core import RedisChannelLayer
from django.utils import timezone

from csms_project import testing
from ocpp_consumer.commands.layer_send import layer_send_one_trip, one_trip_supported
from ocpp_consumer.commands.records import (
    command_mark,
    command_outcome_fields,
    command_outcome_reply,
    command_with_outcome,
)
from ocpp_consumer.commands.replies import (
    reply_key_new,
    reply_lists_supported,
    reply_push,
    reply_wait,
)
from ocpp_consumer.models import Command, CommandStatus
from stations.models import ChargePoint


@pytest.fixture
def redis_url(tmp_path):
    with testing.private_redis(tmp_path) as server:
        yield server.url


def _layer(url: str, **config) -> RedisChannelLayer:
    return RedisChannelLayer(hosts=[url], prefix="test-replies", **config)


async def test_one_trip_send_is_received_as_a_layer_send(redis_url):
    layer = _layer(redis_url)
    assert one_trip_supported(layer)
    channel = await layer.new_channel()
    event = {"type": "ocpp.command", "command_id": 7, "payload": {"type": "Soft"}}
    await layer_send_one_trip(layer, channel, event)
    await layer_send_one_trip(layer, channel, {**event, "command_id": 8})
    assert await layer.receive(channel) == event
    assert (await layer.receive(channel))["command_id"] == 8
    await layer.flush()


async def test_one_trip_send_keeps_the_capacity(redis_url):
    layer = _layer(redis_url, capacity=2)
    channel = await layer.new_channel()
    await layer_send_one_trip(layer, channel, {"type": "ocpp.command", "n": 1})
    await layer_send_one_trip(layer, channel, {"type": "ocpp.command", "n": 2})
    with pytest.raises(ChannelFull):
        await layer_send_one_trip(layer, channel, {"type": "ocpp.command", "n": 3})
    assert (await layer.receive(channel))["n"] == 1
    await layer.flush()


async def test_reply_list_wakes_the_caller_with_what_was_pushed(redis_url):
    layer = _layer(redis_url)
    assert reply_lists_supported(layer)
    key = reply_key_new(layer)
    assert await reply_wait(layer, key, 0.05) is None  # nothing yet: waits, then None
    await reply_push(layer, key, {"status": "answered"})
    # Pushed before the caller waits: kept in the list until read, read once.
    assert await reply_wait(layer, key, 1.0) == {"status": "answered"}
    assert await reply_wait(layer, key, 0.05) is None
    await reply_push(layer, key, {})
    assert await reply_wait(layer, key, 1.0) == {}


@pytest.mark.django_db
def test_the_reply_outcome_is_the_row_the_consumer_wrote():
    charge_point = ChargePoint.objects.create(charge_point_id="CP-REPLY")
    command = Command.objects.create(charge_point=charge_point, action="Reset", payload={})
    outcome = {
        **command_outcome_fields(
            status=CommandStatus.ANSWERED, response={"status": "Accepted", "note": ["x"]}
        ),
        "unique_id": "m-1",
        "sent_at": timezone.now(),
    }
    command_mark(command_id=command.pk, **outcome)
    row = Command.objects.get(pk=command.pk)
    fast = command_with_outcome(command, command_outcome_reply(outcome))
    for name in ("status", "outcome", "response", "error_code", "error_description", "unique_id"):
        assert getattr(fast, name) == getattr(row, name), name
    assert fast.sent_at == row.sent_at
    assert fast.answered_at == row.answered_at


def test_an_outcome_written_after_sent_makes_the_caller_read_the_row():
    # `sent` was written before (a slow answer): the outcome alone lacks the
    # CALL's unique id, so the reply carries nothing and the caller reads the row.
    outcome = command_outcome_fields(status=CommandStatus.TIMED_OUT, error_description="late")
    assert command_outcome_reply(outcome) == {}

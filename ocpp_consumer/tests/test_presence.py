"""Last seen and heartbeats of many charge points written together (ocpp_consumer.presence)."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from ocpp_consumer import presence as presence_module
from ocpp_consumer.presence import heartbeat_record, presence
from ocpp_consumer.tests.conftest import assert_call_result
from stations import services
from stations.models import ChargePoint

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def charge_points(count: int) -> list[int]:
    return [services.chargepoint_create(charge_point_id=f"PRES-{n:03d}").pk for n in range(count)]


@pytest.fixture
def batches(monkeypatch) -> list[int]:
    """The size of each statement the writer makes (the real service still writes)."""
    sizes: list[int] = []
    record = presence_module.chargepoints_presence_record

    def counted(rows):
        sizes.append(len(rows))
        return record(rows)

    monkeypatch.setattr(presence_module, "chargepoints_presence_record", counted)
    return sizes


async def test_heartbeats_arriving_together_share_statements_and_are_committed(batches):
    pks = await charge_points(40)
    answers = await asyncio.gather(
        *(heartbeat_record(charge_point_pk=pk, channel_name=f"chan-{pk}") for pk in pks)
    )
    # The first goes at once; those that arrived meanwhile go together.
    assert sum(batches) == 40 and len(batches) <= 2
    rows = {row.pk: row async for row in ChargePoint.objects.filter(pk__in=pks).order_by("pk")}
    for pk, answered in zip(pks, answers, strict=True):
        row = rows[pk]
        assert row.last_heartbeat == answered == row.last_seen
        assert row.is_online and row.connection_channel == f"chan-{pk}"


async def test_a_touch_keeps_the_last_heartbeat(batches):
    (pk,) = await charge_points(1)
    heartbeat_at = await heartbeat_record(charge_point_pk=pk, channel_name="one")
    await presence.note(charge_point_pk=pk, channel_name="two")
    row = await ChargePoint.objects.aget(pk=pk)
    assert row.last_heartbeat == heartbeat_at < row.last_seen
    assert row.connection_channel == "two"


async def test_what_a_closed_socket_left_unwritten_is_not_written(batches):
    first, closed = await charge_points(2)
    # The first note starts a write; the second waits for the next one...
    writing = presence.note(charge_point_pk=first, channel_name="first")
    waiting = presence.note(charge_point_pk=closed, channel_name="closed")
    # ...and its socket closes meanwhile: a late write must not mark it online again.
    presence.forget(closed)
    await asyncio.gather(writing, waiting)
    assert batches == [1]
    row = await ChargePoint.objects.aget(pk=closed)
    assert (row.is_online, row.last_seen, row.connection_channel) == (False, None, "")


async def test_a_heartbeat_over_the_socket_is_committed_before_its_answer(charge_point_socket):
    socket = await charge_point_socket("CP1")
    result = assert_call_result(await socket.call("Heartbeat", {}, "hb"), "hb")
    row = await ChargePoint.objects.aget(charge_point_id="CP1")
    assert row.last_heartbeat is not None and row.is_online
    assert row.last_heartbeat.isoformat()[:19] == result["currentTime"][:19]

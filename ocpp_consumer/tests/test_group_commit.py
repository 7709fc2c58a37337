"""Group commit: many charge points' writes in one transaction, failures kept apart."""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from ocpp_consumer import group_commit
from ocpp_consumer.group_commit import GroupCommitter, Write, commit_batch
from ocpp_consumer.meter_samples import meter_samples_from_ocpp
from stations.models import Connector, MeterValue
from stations.services import chargepoint_create, metervalues_record_many, transaction_start
from stations.services.charge_points import connector_pk_cache_clear
from stations.timestamps import parse_ocpp_datetime

pytestmark = pytest.mark.django_db


def meter_write(charge_point, value, *, transaction_id=None, connector_id=1) -> Write:
    return Write(
        metervalues_record_many,
        dict(
            charge_point_pk=charge_point.pk,
            connector_id=connector_id,
            transaction_id=transaction_id,
            samples=meter_samples_from_ocpp(
                [{"timestamp": "2024-05-01T10:30:00Z", "sampledValue": [{"value": str(value)}]}]
            ),
        ),
        grouped=True,
    )


@pytest.fixture
def charge_points():
    connector_pk_cache_clear()
    return [
        chargepoint_create(charge_point_id=f"GC-{n}", password="group-commit-key-16")
        for n in range(3)
    ]


def test_grouped_writes_of_a_batch_share_one_insert(charge_points):
    writes = [meter_write(cp, 100 + n) for n, cp in enumerate(charge_points)]
    with CaptureQueriesContext(connection) as queries:
        outcomes = commit_batch(writes)
    assert outcomes == [(True, 1), (True, 1), (True, 1)]
    inserts = [
        q
        for q in queries.captured_queries
        if q["sql"].startswith("INSERT") and "stations_metervalue" in q["sql"]
    ]
    assert len(inserts) == 1
    stored = sorted(MeterValue.objects.values_list("charge_point__charge_point_id", "value"))
    assert stored == [("GC-0", "100"), ("GC-1", "101"), ("GC-2", "102")]


def test_a_failing_write_fails_alone(charge_points):
    def boom(**kwargs):
        raise RuntimeError("bad message")

    writes = [
        meter_write(charge_points[0], 1),
        Write(boom, {}),
        meter_write(charge_points[1], 2),
    ]
    outcomes = commit_batch(writes)
    assert outcomes[0] == (True, 1)
    assert outcomes[1][0] is False and isinstance(outcomes[1][1], RuntimeError)
    assert outcomes[2] == (True, 1)
    assert sorted(MeterValue.objects.values_list("value", flat=True)) == ["1", "2"]


def test_a_failed_batch_leaves_nothing_of_the_failing_write(charge_points):
    def half_then_boom(**kwargs):
        Connector.objects.create(charge_point=charge_points[2], connector_id=7)
        raise RuntimeError("after a write")

    outcomes = commit_batch([meter_write(charge_points[0], 1), Write(half_then_boom, {})])
    assert [ok for ok, _ in outcomes] == [True, False]
    assert not Connector.objects.filter(connector_id=7).exists()
    assert MeterValue.objects.count() == 1


def test_a_hook_failing_after_commit_does_not_write_twice(charge_points):
    calls = []

    def write_with_failing_hook(**kwargs):
        calls.append(1)
        transaction.on_commit(lambda: 1 / 0)
        return "done"

    outcomes = commit_batch([Write(write_with_failing_hook, {}), meter_write(charge_points[0], 5)])
    assert outcomes == [(True, "done"), (True, 1)]
    assert len(calls) == 1
    assert MeterValue.objects.count() == 1


def test_meter_values_of_another_charge_points_transaction_stay_unlinked(charge_points):
    started, _ = transaction_start(
        charge_point_pk=charge_points[0].pk,
        connector_id=1,
        id_tag="T",
        meter_start=0,
        timestamp=parse_ocpp_datetime("2024-05-01T10:00:00Z"),
    )
    outcomes = commit_batch(
        [
            meter_write(charge_points[0], 10, transaction_id=started.pk),
            meter_write(charge_points[1], 20, transaction_id=started.pk),
            meter_write(charge_points[2], 30, transaction_id=999_999),
        ]
    )
    assert all(ok for ok, _ in outcomes)
    linked = dict(MeterValue.objects.values_list("value", "transaction_id"))
    assert linked == {"10": started.pk, "20": None, "30": None}


@pytest.mark.django_db(transaction=True)
def test_connector_created_in_a_rolled_back_batch_is_not_remembered(charge_points):
    def boom_after_the_meter_values(writes):
        raise RuntimeError("roll back")

    # The first write creates the connector, the second finds it (uncommitted),
    # then the batch rolls back (grouped writes run after the others, in order): a remembered pk would point at nothing.
    commit_batch(
        [
            meter_write(charge_points[0], 1, connector_id=3),
            meter_write(charge_points[0], 2, connector_id=3),
            Write(boom_after_the_meter_values, {}, grouped=True),
        ]
    )
    # Another connector may now get the pk the rolled-back one had.
    Connector.objects.create(charge_point=charge_points[1], connector_id=9)
    assert commit_batch([meter_write(charge_points[0], 3, connector_id=3)]) == [(True, 1)]
    assert Connector.objects.filter(charge_point=charge_points[0], connector_id=3).count() == 1
    assert set(
        MeterValue.objects.values_list("connector__charge_point", "connector__connector_id")
    ) == {(charge_points[0].pk, 3)}


@pytest.mark.django_db(transaction=True)
async def test_concurrent_writes_are_committed_in_fewer_batches(monkeypatch):
    from asgiref.sync import sync_to_async

    connector_pk_cache_clear()
    charge_points = [
        await sync_to_async(chargepoint_create)(
            charge_point_id=f"GCA-{n}", password="group-commit-key-16"
        )
        for n in range(20)
    ]
    batches = []
    real_commit = group_commit.commit_batch

    def counting_commit(writes):
        batches.append(len(writes))
        return real_commit(writes)

    monkeypatch.setattr(group_commit, "commit_batch", counting_commit)
    committer = GroupCommitter()
    results = await asyncio.gather(
        *(
            committer.write_grouped(metervalues_record_many, **meter_write(cp, n).kwargs)
            for n, cp in enumerate(charge_points)
        )
    )
    assert results == [1] * 20
    assert sum(batches) == 20
    assert len(batches) < 20  # the writes that waited went together
    assert await MeterValue.objects.acount() == 20


@pytest.mark.django_db(transaction=True)
async def test_a_lone_failure_reaches_its_caller():
    def boom(**kwargs):
        raise ValueError("mine")

    with pytest.raises(ValueError, match="mine"):
        await GroupCommitter().write(boom)


@pytest.mark.skipif(connection.vendor == "sqlite", reason="SQLite has one writer at a time")
@pytest.mark.django_db(transaction=True)
async def test_two_writer_threads_write_two_batches_at_once():
    both_in = threading.Barrier(2, timeout=10)

    def meet(**kwargs):
        both_in.wait()  # broken (and raising) unless the other batch runs meanwhile
        return "met"

    committer = GroupCommitter(writers=2)
    assert await asyncio.gather(committer.write(meet), committer.write(meet)) == ["met", "met"]


@pytest.mark.django_db(transaction=True)
async def test_one_writer_writes_one_batch_at_a_time():
    inside = []

    def note(**kwargs):
        inside.append(threading.current_thread().name)
        return len(inside)

    committer = GroupCommitter(writers=1)
    results = await asyncio.gather(*(committer.write(note) for _ in range(5)))
    assert sorted(results) == [1, 2, 3, 4, 5]
    assert len(set(inside)) == 1  # Channels' ORM thread


@pytest.mark.skipif(connection.vendor != "sqlite", reason="about SQLite")
def test_sqlite_has_one_writer():
    assert GroupCommitter(writers=4)._writer_count() == 1

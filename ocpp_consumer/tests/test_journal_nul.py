"""The journal never loses good rows for a bad one (run on SQLite and PostgreSQL).

A NUL ("\\u0000") or a lone surrogate is legal in a JSON string, but
PostgreSQL refuses NUL in text and jsonb and no driver encodes a lone
surrogate: one such frame used to make the database refuse the whole batch,
other charge points' rows with it.
"""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from monitoring.metrics import JOURNAL_ROWS_DROPPED
from ocpp_consumer.journal import COLUMNS, JournalBuffer, _write
from ocpp_consumer.models import Direction, JournalEntry
from stations.services import chargepoint_create

from .conftest import assert_call_result

pytestmark = pytest.mark.django_db


def row(charge_point, *, payload=None, raw="", unique_id="1", message_type=2) -> tuple:
    values = dict(
        charge_point_id=charge_point.pk,
        direction="in",
        message_type=message_type,
        unique_id=unique_id,
        action="DataTransfer",
        payload=payload,
        error_code="",
        raw=raw,
        timestamp=timezone.now(),
    )
    return tuple(values[name] for name in COLUMNS)


@pytest.fixture
def charge_points():
    return [chargepoint_create(charge_point_id=f"NUL-{n}") for n in range(3)]


def dropped(reason: str) -> float:
    return JOURNAL_ROWS_DROPPED.labels(reason)._value.get()


def test_nul_and_lone_surrogates_are_escaped_and_the_batch_is_kept(charge_points):
    good_a, bad, good_b = charge_points
    rows = [
        row(good_a, payload={"vendorId": "A"}, unique_id="a"),
        row(
            bad,
            payload={"vendorId": "V", "data": "x\x00y", "k\x00": ["\ud800", "ok"]},
            raw="[2,\x00]",
            unique_id="id\x00",
        ),
        row(good_b, payload={"vendorId": "B", "data": "caf\u00e9 \U0001f600"}, unique_id="b"),
    ]
    assert _write(rows) == 0
    stored = {e.charge_point_id: e for e in JournalEntry.objects.all()}
    assert set(stored) == {cp.pk for cp in charge_points}
    assert stored[good_a.pk].payload == {"vendorId": "A"}
    # Valid non-ASCII text (a real surrogate pair in JSON) is untouched.
    assert stored[good_b.pk].payload["data"] == "caf\u00e9 \U0001f600"
    # The bad characters are kept readable, as the JSON escapes they came as.
    assert stored[bad.pk].payload == {
        "vendorId": "V",
        "data": "x\\u0000y",
        "k\\u0000": ["\\ud800", "ok"],
    }
    assert stored[bad.pk].raw == "[2,\\u0000]"
    assert stored[bad.pk].unique_id == "id\\u0000"


def test_an_escape_never_overflows_its_column(charge_points):
    assert _write([row(charge_points[0], unique_id="u" * 99 + "\x00")]) == 0
    assert JournalEntry.objects.get().unique_id == "u" * 99 + "\\"


def test_a_row_the_database_refuses_is_dropped_alone(charge_points):
    good_a, bad, good_b = charge_points
    rows = [
        row(good_a, unique_id="a"),
        row(bad, unique_id="refused", message_type=-1),  # breaks the column's check
        row(good_b, unique_id="b"),
    ]
    assert _write(rows) == 1
    assert sorted(JournalEntry.objects.values_list("unique_id", flat=True)) == ["a", "b"]


@pytest.mark.django_db(transaction=True)
async def test_flush_counts_what_it_dropped(charge_points):
    good, bad, _ = charge_points
    buffer = JournalBuffer()
    buffer.record(charge_point_pk=good.pk, direction=Direction.IN, unique_id="kept", payload={})
    buffer.record(charge_point_pk=bad.pk, direction=Direction.IN, unique_id="nul", payload="\x00")
    buffer.record(charge_point_pk=bad.pk, direction=Direction.IN, unique_id="bad", message_type=-1)
    before = dropped("bad_row")
    assert await buffer.flush() == 2
    assert dropped("bad_row") == before + 1
    kept = [e async for e in JournalEntry.objects.order_by("unique_id")]
    assert [(e.unique_id, e.payload) for e in kept] == [("kept", {}), ("nul", "\\u0000")]


@pytest.mark.django_db(transaction=True)
async def test_a_frame_with_nul_is_journaled_with_the_other_charge_points_frames(
    charge_point_socket,
):
    from ocpp_consumer.journal import journal

    nul = await charge_point_socket("NUL-FRAME")
    other = await charge_point_socket("NUL-OTHER")
    await journal.flush()
    # Valid JSON with a NUL escape, in a field the schema accepts.
    text = json.dumps([2, "dt-1", "DataTransfer", {"vendorId": "V\x00", "data": "a\x00"}])
    reply = await nul.exchange(text)
    assert reply[1] == "dt-1"  # answered, whatever the answer
    assert_call_result(await other.call("Heartbeat", {}, unique_id="hb-1"), "hb-1")
    await nul.assert_usable()
    await journal.flush()
    entries = [
        (e.charge_point.charge_point_id, e.unique_id, e.payload)
        async for e in JournalEntry.objects.select_related("charge_point").filter(
            unique_id__in=["dt-1", "hb-1"], direction="in"
        )
    ]
    assert sorted(entries) == [
        ("NUL-FRAME", "dt-1", {"vendorId": "V\\u0000", "data": "a\\u0000"}),
        ("NUL-OTHER", "hb-1", {}),
    ]

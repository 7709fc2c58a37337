"""Frames that cannot be parsed as they are, and what a charge point can make us store.

Whatever arrives (nested past any sane depth, not UTF-8, not an object where
one is due, too large for the journal), the socket stays open, a readable
CALL is answered once, and the journal keeps a bounded, explainable row.
"""

import asyncio
import hashlib
import json

import pytest
import websockets

from csms_project import testing
from ocpp_consumer import commands, framing
from ocpp_consumer.journal import journal
from ocpp_consumer.models import CommandStatus, JournalEntry
from stations.models import Connector, DataTransferRecord

from .conftest import BOOT_PAYLOAD, TIMEOUT, assert_call_error, assert_call_result

pytestmark = pytest.mark.django_db(transaction=True)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def nested_call(unique_id: str, depth: int) -> str:
    return f'[2,"{unique_id}","DataTransfer",{{"vendorId":"x","data":"y","n":{nested(depth)}}}]'


async def journal_rows(**filters) -> list[JournalEntry]:
    await journal.flush()
    return [row async for row in JournalEntry.objects.filter(**filters).order_by("id")]


@pytest.fixture
async def socket(charge_point_socket):
    return await charge_point_socket("CP1")


# --- depth ---------------------------------------------------------------------------


async def test_a_100_kb_nested_call_is_formation_violation_and_the_socket_lives(socket):
    text = nested_call("deep-1", 50_000)
    assert len(text) > 100_000
    description = assert_call_error(await socket.exchange(text), "deep-1", "FormationViolation")
    assert "32" in description
    await socket.assert_usable()
    [row] = await journal_rows(unique_id="deep-1", direction="in")
    assert row.message_type == 2 and row.raw.startswith('[2,"deep-1"')


async def test_nesting_past_the_limit_is_refused_below_the_parsers_own(socket, settings):
    settings.OCPP_MAX_FRAME_DEPTH = 8
    frame = await socket.exchange(nested_call("deep-2", 7))  # frame, payload, 7: 9 levels
    assert_call_error(frame, "deep-2", "FormationViolation")
    frame = await socket.call("DataTransfer", {"vendorId": "x", "data": "ok"}, "flat")
    assert assert_call_result(frame, "flat") == {"status": "UnknownVendorId"}


async def test_a_deep_frame_without_a_readable_id_is_dropped_and_journaled(socket):
    await socket.send_text(nested(50_000))
    await socket.send_text('[2,{"id":1},' + nested(100) + "]")
    await socket.assert_usable()
    assert await socket.receive_nothing(timeout=0.1)
    rows = await journal_rows(direction="in", message_type=None)
    assert len(rows) == 2 and rows[0].raw.startswith("[[[[")


def test_the_deepest_ocpp_payloads_pass_the_default_limit():
    profile = {
        "chargingProfileId": 1,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}],
        },
    }
    start = {"idTag": "T", "chargingProfile": profile}
    text = json.dumps([2, "rs", "RemoteStartTransaction", start])
    assert framing.parse_frame(text).payload == start
    meter = {"connectorId": 1, "meterValue": [{"timestamp": "t", "sampledValue": [{"value": "1"}]}]}
    text = json.dumps([2, "mv", "MeterValues", meter])
    assert framing.parse_frame(text, max_depth=6).payload == meter


# --- not an object, not UTF-8, not JSON ----------------------------------------------


@pytest.mark.parametrize("payload", ["null", "[]", '"x"', "7"])
async def test_a_call_payload_that_is_not_an_object_is_formation_violation(socket, payload):
    frame = await socket.exchange(f'[2,"np","Heartbeat",{payload}]')
    assert_call_error(frame, "np", "FormationViolation")
    await socket.assert_usable()


async def test_a_frame_with_a_lone_surrogate_is_formation_violation(socket):
    frame = await socket.exchange('[2,"sur","DataTransfer",{"vendorId":"\ud800"}]')
    assert_call_error(frame, "sur", "FormationViolation")
    await socket.send_text('[2,"\udc00","Heartbeat",{}]')  # no readable id: dropped
    await socket.assert_usable()
    [answered] = await journal_rows(direction="in", unique_id="sur")
    [dropped] = await journal_rows(direction="in", message_type=None)
    assert "\\ud800" in answered.raw and "\\udc00" in dropped.raw  # stored, escaped


async def test_escaped_lone_surrogates_and_nul_are_answered_and_journaled(socket):
    text = '[2,"esc","DataTransfer",{"vendorId":"v","data":"\\ud800\\u0000"}]'
    assert_call_error(await socket.exchange(text), "esc", "PropertyConstraintViolation")
    await socket.assert_usable()
    [row] = await journal_rows(unique_id="esc", direction="in")
    assert row.payload["vendorId"] == "v"


async def test_nan_is_not_json_and_gets_no_answer(socket):
    await socket.send_text('[2,"nan","Heartbeat",{"x":NaN}]')
    await socket.assert_usable()


# --- answers we cannot use -----------------------------------------------------------


def start(action, payload):
    return asyncio.create_task(
        commands.command_send(
            charge_point_id="CP1", action=action, payload=payload, timeout=TIMEOUT
        )
    )


@pytest.mark.parametrize("answer", ["null", "[]", '"Accepted"', '{"a":' + nested(40) + "}"])
async def test_an_unusable_callresult_fails_its_command(socket, answer):
    sending = start("ClearCache", {})
    call = await socket.next_frame()
    await socket.send_text(f'[3,"{call[1]}",{answer}]')
    command = await sending
    assert command.status == CommandStatus.FAILED
    assert command.error_code == "FormationViolation"
    await socket.assert_usable()
    [row] = await journal_rows(unique_id=call[1], direction="in")
    assert (row.message_type, row.action) == (3, "ClearCache")


async def test_an_answer_too_deep_to_parse_fails_its_command(socket):
    sending = start("ClearCache", {})
    call = await socket.next_frame()
    await socket.send_text(f'[3,"{call[1]}",{{"a":{nested(50_000)}}}]')
    command = await sending
    assert (command.status, command.error_code) == (CommandStatus.FAILED, "FormationViolation")
    await socket.assert_usable()


async def test_an_oversized_answer_fails_its_command(socket, settings):
    settings.OCPP_MAX_FRAME_BYTES = 300
    sending = start("ClearCache", {})
    call = await socket.next_frame()
    await socket.send_text(f'[3,"{call[1]}",{{"status":"Accepted","x":"{"y" * 400}"}}]')
    command = await sending
    assert (command.status, command.error_code) == (CommandStatus.FAILED, "GenericError")
    await socket.assert_usable()


# --- the journal's limits ------------------------------------------------------------


async def test_a_large_frame_is_journaled_as_head_size_and_hash(socket, settings):
    settings.OCPP_JOURNAL_MAX_PAYLOAD_BYTES = 1000
    text = json.dumps([2, "big", "DataTransfer", {"vendorId": "v", "data": "z" * 5000}])
    assert_call_result(await socket.exchange(text), "big")
    [row] = await journal_rows(unique_id="big", direction="in")
    kept = row.payload["journal_truncated"]
    assert kept == {
        "bytes": len(text),
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "head_bytes": 1000,
    }
    assert row.raw == text[:1000]


async def test_the_hourly_journal_budget_keeps_only_size_and_hash(socket, settings):
    settings.OCPP_JOURNAL_BYTES_PER_HOUR = 2000
    for n in range(6):
        text = json.dumps([2, f"b{n}", "Heartbeat", {}]) + " " * 500
        assert_call_result(await socket.exchange(text), f"b{n}")
    rows = await journal_rows(direction="in", action="Heartbeat")
    assert [row.payload == {} for row in rows] == [True, True, True, False, False, False]
    assert rows[-1].payload["journal_truncated"]["head_bytes"] == 0
    assert rows[-1].raw == ""


async def test_data_transfer_data_is_stored_once(socket):
    data = "d" * 5000
    payload = {"vendorId": "com.acme", "messageId": "m", "data": data}
    assert_call_result(await socket.call("DataTransfer", payload, "dt-once"), "dt-once")
    record = await DataTransferRecord.objects.aget()
    assert (record.data, record.unique_id, record.data_bytes) == (data, "dt-once", 5000)
    [row] = await journal_rows(unique_id="dt-once", direction="in")
    omitted = row.payload["data"]["journal_omitted"]
    assert omitted["sha256"] == record.data_sha256 and omitted["bytes"] == 5000
    assert len(omitted["head"]) == 256
    assert row.payload["vendorId"] == "com.acme"


async def test_a_flood_of_large_data_transfers_stores_little(socket, settings):
    """The reported case, smaller: 200 KB DataTransfers, many times over."""
    settings.OCPP_DATA_TRANSFER_RATE_LIMIT = 10
    data = "r" * 200_000
    for n in range(30):
        frame = await socket.call("DataTransfer", {"vendorId": "com.acme", "data": data}, f"f{n}")
        assert assert_call_result(frame, f"f{n}") == {"status": "UnknownVendorId"}
    await socket.assert_usable()
    records = [r async for r in DataTransferRecord.objects.all()]
    assert len(records) == 10 and all(r.data == "" and r.data_omitted for r in records)
    rows = await journal_rows(direction="in", action="DataTransfer")
    stored = sum(len(row.raw) + len(json.dumps(row.payload)) for row in rows)
    assert len(rows) == 30 and stored < 30 * 17_000  # a head each, not 6 MB


# --- a real server ---------------------------------------------------------------------


async def _nested_frame_then_heartbeat(ws_url: str) -> tuple[list, list]:
    async with websockets.connect(ws_url, subprotocols=["ocpp1.6"], max_size=None) as ws:
        await ws.send(json.dumps([2, "boot", "BootNotification", BOOT_PAYLOAD]))
        assert_call_result(json.loads(await asyncio.wait_for(ws.recv(), 10)), "boot")
        await ws.send(nested_call("deep-e2e", 50_000))
        refused = json.loads(await asyncio.wait_for(ws.recv(), 10))
        await ws.send('[2,"hb-e2e","Heartbeat",{}]')
        answered = json.loads(await asyncio.wait_for(ws.recv(), 10))
        return refused, answered


@pytest.mark.e2e
def test_daphne_keeps_the_socket_after_a_100_kb_nested_frame(tmp_path):
    env = testing.process_env()
    with testing.daphne_node(env, tmp_path) as base_url:
        ws_url = base_url.replace("http://", "ws://") + "/ocpp/DEEP-E2E"
        refused, answered = asyncio.run(_nested_frame_then_heartbeat(ws_url))
    assert_call_error(refused, "deep-e2e", "FormationViolation")
    assert "currentTime" in assert_call_result(answered, "hb-e2e")


async def test_connectors_a_charge_point_can_create_are_limited(charge_point_socket, settings):
    settings.OCPP_MAX_CONNECTORS_PER_CHARGE_POINT = 3  # connector 0 and two more
    socket = await charge_point_socket("CP-MANY")
    status = {"errorCode": "NoError", "status": "Available"}
    for connector_id in (0, 1, 2):
        frame = await socket.call("StatusNotification", {**status, "connectorId": connector_id})
        assert frame[0] == 3, frame
    frame = await socket.call("StatusNotification", {**status, "connectorId": 99}, "too-many")
    assert_call_error(frame, "too-many", "PropertyConstraintViolation")
    # Known connectors go on working, and so does the socket.
    frame = await socket.call("StatusNotification", {**status, "connectorId": 2})
    assert frame[0] == 3, frame
    await socket.assert_usable()
    assert await Connector.objects.filter(charge_point__charge_point_id="CP-MANY").acount() == 3

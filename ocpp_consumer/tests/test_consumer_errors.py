"""The consumer's answers to bad frames: CALLERROR codes of OCPP-J 1.6 section 4.2.3.

Every CALLERROR is exactly [4, uniqueId, code, description, {}]; a bad frame
never closes the socket, so each test ends by checking it still answers.
"""

from __future__ import annotations

import json

import pytest

import stations.services
from ocpp_consumer.tests.conftest import assert_call_error, assert_call_result
from stations.models import ChargePoint, Connector, DataTransferRecord, MeterValue, Transaction
from stations.services import meter_values, transactions
from stations.services.data_transfer import data_transfer_handler, data_transfer_unregister

pytestmark = pytest.mark.django_db(transaction=True)

METER_VALUES = {
    "connectorId": 1,
    "meterValue": [{"timestamp": "2024-05-01T10:30:00Z", "sampledValue": [{"value": "1"}]}],
}
STATUS = {"connectorId": 1, "status": "Available", "errorCode": "NoError"}
OCCURENCE, TYPE = "OccurenceConstraintViolation", "TypeConstraintViolation"
BOOLEAN_VALUE = {
    "connectorId": 1,
    "meterValue": [{"timestamp": "2024-05-01T10:30:00Z", "sampledValue": [{"value": True}]}],
}


@pytest.fixture
async def socket(charge_point_socket):
    """A booted charge point CP1."""
    return await charge_point_socket("CP1")


async def test_call_before_boot_is_security_error(charge_point_socket):
    socket = await charge_point_socket("CP1", boot=False)
    assert_call_error(await socket.call("Heartbeat", {}, "hb"), "hb", "SecurityError")
    frame = await socket.call("StatusNotification", STATUS, "sn")
    assert_call_error(frame, "sn", "SecurityError")
    assert await Connector.objects.acount() == 0
    assert (await ChargePoint.objects.aget(charge_point_id="CP1")).last_heartbeat is None
    assert (await socket.boot())["status"] == "Accepted"
    await socket.assert_usable()


async def test_unknown_action_is_not_implemented(socket):
    assert_call_error(await socket.call("Teleport", {}, "u1"), "u1", "NotImplemented")
    await socket.assert_usable()


@pytest.mark.parametrize("action", ["Reset", "RemoteStartTransaction", "GetConfiguration"])
async def test_central_system_action_is_not_supported(socket, action):
    assert_call_error(await socket.call(action, {}, "r1"), "r1", "NotSupported")
    await socket.assert_usable()


@pytest.mark.parametrize(
    ("action", "payload", "code"),
    [
        ("Authorize", {}, OCCURENCE),
        ("StatusNotification", {"connectorId": 1, "status": "Available"}, OCCURENCE),
        ("Heartbeat", {"extra": 1}, OCCURENCE),
        ("Authorize", {"idTag": "T", "colour": "red"}, OCCURENCE),
        ("MeterValues", {"connectorId": 1, "meterValue": []}, OCCURENCE),
        ("StatusNotification", dict(STATUS, connectorId="1"), TYPE),
        ("StatusNotification", dict(STATUS, status="Flying"), TYPE),
        ("Authorize", {"idTag": "X" * 21}, TYPE),
        ("BootNotification", {"chargePointVendor": "V" * 21, "chargePointModel": "M"}, TYPE),
        ("StatusNotification", dict(STATUS, timestamp="yesterday"), TYPE),
        ("MeterValues", BOOLEAN_VALUE, TYPE),
    ],
    ids=[
        "missing-idTag",
        "missing-errorCode",
        "extra-field",
        "extra-field-authorize",
        "empty-meterValue",
        "string-for-integer",
        "bad-enum",
        "idTag-too-long",
        "vendor-too-long",
        "bad-date-time",
        "boolean-value",
    ],
)
async def test_schema_violations(socket, action, payload, code):
    description = assert_call_error(await socket.call(action, payload, "bad"), "bad", code)
    assert description
    assert await Connector.objects.acount() == 0
    assert await MeterValue.objects.acount() == 0
    await socket.assert_usable()


@pytest.mark.parametrize("payload", ["[]", '"text"', "42", "true"])
async def test_payload_not_an_object_is_formation_violation(socket, payload):
    frame = await socket.exchange(f'[2,"f1","Heartbeat",{payload}]')
    assert_call_error(frame, "f1", "FormationViolation")
    await socket.assert_usable()


@pytest.mark.parametrize(
    "text",
    ['[2,"p1"]', '[2,"p1","Heartbeat"]', '[2,"p1","Heartbeat",{},{}]', '[2,"p1",7,{}]'],
)
async def test_malformed_call_is_protocol_error(socket, text):
    assert_call_error(await socket.exchange(text), "p1", "ProtocolError")
    await socket.assert_usable()


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"a": 1}',
        "[]",
        "[2]",
        '[2,null,"Heartbeat",{}]',
        '[2,["x"],"Heartbeat",{}]',
        '["2","x","Heartbeat",{}]',
        '[9,"x","Heartbeat",{}]',
        '[3,"x",{}]',
        '[4,"x","GenericError","",{}]',
    ],
)
async def test_unusable_frames_get_no_answer(socket, text):
    await socket.send_text(text)
    # Answers are sent in order: the next frame must be the Heartbeat's.
    await socket.assert_usable()
    assert await socket.receive_nothing(timeout=0.1)


async def test_binary_frame_gets_no_answer(socket):
    await socket.send_to(bytes_data=b'[2,"b1","Heartbeat",{}]')
    await socket.assert_usable()


async def test_integer_unique_id_is_echoed(socket):
    frame = await socket.exchange('[2,17,"Heartbeat",{}]')
    assert assert_call_result(frame, 17).keys() == {"currentTime"}


async def test_oversized_frame_is_generic_error(socket, settings):
    settings.OCPP_MAX_FRAME_BYTES = 200
    payload = {"vendorId": "com.acme", "data": "x" * 300}
    frame = await socket.call("DataTransfer", payload, "big-1")
    description = assert_call_error(frame, "big-1", "GenericError")
    assert "200" in description
    assert await DataTransferRecord.objects.acount() == 0
    await socket.assert_usable()


async def test_oversized_frame_without_readable_id_gets_no_answer(socket, settings):
    settings.OCPP_MAX_FRAME_BYTES = 200
    await socket.send_text(json.dumps({"junk": "x" * 300}))
    await socket.assert_usable()


async def test_oversized_frame_is_measured_in_bytes(socket, settings):
    settings.OCPP_MAX_FRAME_BYTES = 200
    frame = [2, "big-2", "DataTransfer", {"vendorId": "com.acme", "data": "\u20ac" * 100}]
    text = json.dumps(frame, ensure_ascii=False)
    assert len(text) < 200 < len(text.encode())
    frame = await socket.exchange(text)
    assert_call_error(frame, "big-2", "GenericError")


async def test_handler_exception_is_internal_error(socket, monkeypatch):
    def boom(writes):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(stations.services, "metervalues_record_many", boom)
    description = assert_call_error(
        await socket.call("MeterValues", METER_VALUES, "ie-1"), "ie-1", "InternalError"
    )
    assert "secret detail" not in description
    await socket.assert_usable()


async def test_meter_values_failure_writes_nothing(socket, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("after the connector was created")

    monkeypatch.setattr(meter_values, "meter_values_build", boom)
    frame = await socket.call("MeterValues", METER_VALUES, "ie-2")
    assert_call_error(frame, "ie-2", "InternalError")
    assert await Connector.objects.acount() == 0
    assert await MeterValue.objects.acount() == 0
    await socket.assert_usable()


async def test_stop_transaction_failure_leaves_transaction_open(socket, monkeypatch):
    start = {"connectorId": 1, "idTag": "T1", "meterStart": 0, "timestamp": "2024-05-01T10:00:00Z"}
    tx_id = assert_call_result(await socket.call("StartTransaction", start, "s"), "s")[
        "transactionId"
    ]

    def boom(**kwargs):
        raise RuntimeError("energy")

    monkeypatch.setattr(transactions, "transaction_energy", boom)
    stop = {
        "transactionId": tx_id,
        "meterStop": 900,
        "timestamp": "2024-05-01T11:00:00Z",
        "transactionData": [
            {"timestamp": "2024-05-01T11:00:00Z", "sampledValue": [{"value": "900"}]}
        ],
    }
    assert_call_error(await socket.call("StopTransaction", stop, "ie-3"), "ie-3", "InternalError")
    tx = await Transaction.objects.aget(pk=tx_id)
    assert (tx.stop_timestamp, tx.meter_stop, tx.energy_wh) == (None, None, None)
    assert await MeterValue.objects.acount() == 0
    await socket.assert_usable()


async def test_invalid_own_response_is_internal_error(socket, settings):
    settings.OCPP_VALIDATE_RESPONSES = True

    @data_transfer_handler("com.broken")
    def handle(*, charge_point_pk, message_id, data):
        return "Maybe", None

    try:
        frame = await socket.call("DataTransfer", {"vendorId": "com.broken"}, "own")
    finally:
        data_transfer_unregister("com.broken")
    assert_call_error(frame, "own", "InternalError")

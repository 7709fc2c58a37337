"""The consumer end to end: handshake, identity, and every Core action a charge point sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async

from drivers.models import IdTag
from ocpp_consumer.framing import validate_result
from ocpp_consumer.handshake import DENIAL_RESPONSE_EXTENSION
from ocpp_consumer.tests.conftest import (
    BOOT_PAYLOAD,
    TIMEOUT,
    OcppCommunicator,
    assert_call_error,
    assert_call_result,
    assert_recent_timestamp,
    basic_auth,
)
from stations import services
from stations.models import (
    ChargePoint,
    Connector,
    ConnectorStatusLog,
    DataTransferRecord,
    MeterValue,
    OrphanStopTransaction,
    Transaction,
)
from stations.services.data_transfer import data_transfer_handler, data_transfer_unregister
from stations.timestamps import format_ocpp_datetime

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct-horse-battery"
create_charge_point = sync_to_async(services.chargepoint_create)


async def answer(socket, action: str, payload: dict, unique_id: str = "msg-1") -> dict:
    """CALL `action` and return the CALLRESULT payload, checked against the schema."""
    result = assert_call_result(await socket.call(action, payload, unique_id), unique_id)
    validate_result(action, result)
    return result


# --- handshake and identity ---------------------------------------------------


@pytest.mark.parametrize("subprotocols", [(), ("ocpp2.0",), ("ocpp1.5", "ocpp2.1")])
async def test_handshake_without_a_supported_subprotocol_is_refused(handshake, subprotocols):
    connected, _ = await handshake("/ocpp/CP1", subprotocols=subprotocols)
    assert connected is False
    assert not await ChargePoint.objects.filter(charge_point_id="CP1").aexists()


async def test_handshake_negotiates_ocpp16_among_unsupported_ones(handshake):
    connected, socket = await handshake("/ocpp/CP1", subprotocols=("ocpp2.1", "ocpp1.6"))
    assert socket.handshake_result == (True, "ocpp1.6")
    assert (await socket.boot())["status"] == "Accepted"


@pytest.mark.parametrize("raw_path", [True, False], ids=["raw_path", "path_only"])
async def test_percent_encoded_id_is_decoded(charge_point_socket, raw_path):
    await charge_point_socket("CP 1", raw_path=raw_path)
    charge_point = await ChargePoint.objects.aget(charge_point_id="CP 1")
    assert charge_point.is_online
    assert not await ChargePoint.objects.filter(charge_point_id="CP%201").aexists()


@pytest.mark.parametrize("path", ["/ocpp/CP%3Cx%3E", "/ocpp/%FF%FE", "/ocpp/" + "A" * 65])
async def test_invalid_id_is_refused(handshake, path):
    connected, _ = await handshake(path)
    assert connected is False
    assert await ChargePoint.objects.acount() == 0


async def test_unknown_id_refused_without_auto_register(handshake, settings):
    settings.OCPP_AUTO_REGISTER = False
    connected, _ = await handshake("/ocpp/NEW1")
    assert connected is False
    assert await ChargePoint.objects.acount() == 0

    await create_charge_point(charge_point_id="KNOWN1")
    connected, _ = await handshake("/ocpp/KNOWN1")
    assert connected is True


@pytest.mark.parametrize(
    "headers",
    [
        [],
        basic_auth("CP1", "wrong-password-123"),
        basic_auth("CP2", PASSWORD),
        [(b"authorization", b"Bearer " + PASSWORD.encode())],
        [(b"authorization", b"Basic not-base64!")],
    ],
    ids=["no-header", "wrong-password", "wrong-user", "not-basic", "garbled"],
)
async def test_security_profile_1_refuses_bad_credentials(handshake, headers):
    await create_charge_point(charge_point_id="CP1", password=PASSWORD)
    connected, _ = await handshake("/ocpp/CP1", headers=headers)
    assert connected is False
    assert not (await ChargePoint.objects.aget(charge_point_id="CP1")).is_online


async def test_security_profile_1_accepts_right_credentials(charge_point_socket):
    await create_charge_point(charge_point_id="CP1", password=PASSWORD)
    socket = await charge_point_socket("CP1", headers=basic_auth("CP1", PASSWORD))
    await socket.assert_usable()
    assert (await ChargePoint.objects.aget(charge_point_id="CP1")).is_online


async def test_security_profile_1_id_with_colon(handshake):
    # RFC 7617 splits at the first colon; the id is known, so match "<id>:" instead.
    await create_charge_point(charge_point_id="CP:1", password=PASSWORD)
    connected, _ = await handshake("/ocpp/CP:1", headers=basic_auth("CP:1", PASSWORD))
    assert connected is True


@pytest.mark.parametrize(
    ("path", "kwargs", "status"),
    [
        ("/ocpp/CP%3Cx%3E", {}, 404),
        ("/ocpp/CP1", {"subprotocols": ()}, 400),
        ("/ocpp/CP1", {"headers": basic_auth("CP1", "wrong-password-123")}, 401),
        ("/ocpp/CP1", {}, 401),
        ("/ocpp/NEW1", {}, 404),
    ],
    ids=["invalid-id", "no-subprotocol", "wrong-password", "no-credentials", "unknown-id"],
)
async def test_refusal_uses_http_denial_response_when_offered(
    channel_layer, settings, path, kwargs, status
):
    settings.OCPP_AUTO_REGISTER = False
    await create_charge_point(charge_point_id="CP1", password=PASSWORD)
    socket = OcppCommunicator(path, **kwargs)
    socket.scope["extensions"] = {DENIAL_RESPONSE_EXTENSION: {}}
    await socket.send_input({"type": "websocket.connect"})
    start = await socket.receive_output(timeout=TIMEOUT)
    body = await socket.receive_output(timeout=TIMEOUT)
    await socket.disconnect(timeout=TIMEOUT)
    assert (start["type"], start["status"]) == (f"{DENIAL_RESPONSE_EXTENSION}.start", status)
    assert body["type"] == f"{DENIAL_RESPONSE_EXTENSION}.body"


async def test_second_connection_replaces_first(charge_point_socket):
    first = await charge_point_socket("CP1")
    second = await charge_point_socket("CP1", boot=False)
    closed = await first.receive_output(timeout=TIMEOUT)
    assert closed == {"type": "websocket.close", "code": 4001}
    await second.assert_usable()

    await first.disconnect(timeout=TIMEOUT)
    charge_point = await ChargePoint.objects.aget(charge_point_id="CP1")
    assert charge_point.is_online, "the old socket's disconnect must not mark it offline"
    assert charge_point.connection_channel

    await second.disconnect(timeout=TIMEOUT)
    charge_point = await ChargePoint.objects.aget(charge_point_id="CP1")
    assert (charge_point.is_online, charge_point.connection_channel) == (False, "")


async def test_disconnect_marks_offline(charge_point_socket):
    socket = await charge_point_socket("CP1")
    assert (await ChargePoint.objects.aget(charge_point_id="CP1")).is_online
    await socket.disconnect(timeout=TIMEOUT)
    assert not (await ChargePoint.objects.aget(charge_point_id="CP1")).is_online


# --- BootNotification and Heartbeat --------------------------------------------


async def test_boot_notification(charge_point_socket, settings):
    socket = await charge_point_socket("CP1", boot=False)
    payload = dict(
        BOOT_PAYLOAD,
        chargePointSerialNumber="SN-1",
        chargeBoxSerialNumber="BOX-1",
        firmwareVersion="1.2.3",
        iccid="8931",
        imsi="262",
        meterType="DZG",
        meterSerialNumber="M-1",
    )
    result = await answer(socket, "BootNotification", payload, "b1")
    assert set(result) == {"status", "currentTime", "interval"}
    assert result["status"] == "Accepted"
    assert result["interval"] == settings.OCPP_HEARTBEAT_INTERVAL
    assert_recent_timestamp(result["currentTime"])

    cp = await ChargePoint.objects.aget(charge_point_id="CP1")
    stored = (cp.vendor, cp.model, cp.charge_point_serial_number, cp.charge_box_serial_number)
    assert stored == ("ACME", "Wallbox 22", "SN-1", "BOX-1")
    assert (cp.firmware_version, cp.iccid, cp.imsi) == ("1.2.3", "8931", "262")
    assert (cp.meter_type, cp.meter_serial_number) == ("DZG", "M-1")
    assert cp.last_boot_at is not None and cp.is_accepted


async def test_boot_notification_uses_own_interval(charge_point_socket):
    charge_point = await create_charge_point(charge_point_id="CP1")
    await ChargePoint.objects.filter(pk=charge_point.pk).aupdate(heartbeat_interval=42)
    socket = await charge_point_socket("CP1", boot=False)
    assert (await answer(socket, "BootNotification", BOOT_PAYLOAD))["interval"] == 42


@pytest.mark.parametrize("status", ["Pending", "Rejected"])
async def test_boot_not_accepted_then_calls_are_security_errors(charge_point_socket, status):
    await create_charge_point(charge_point_id="CP1", registration_status=status)
    socket = await charge_point_socket("CP1", boot=False)
    assert (await answer(socket, "BootNotification", BOOT_PAYLOAD))["status"] == status
    assert_call_error(await socket.call("Heartbeat", {}, "hb"), "hb", "SecurityError")
    assert (await ChargePoint.objects.aget(charge_point_id="CP1")).last_heartbeat is None


async def test_boot_answers_the_current_registration_status(charge_point_socket):
    # An operator approves a Pending charge point while it stays connected.
    await create_charge_point(charge_point_id="CP1", registration_status="Pending")
    socket = await charge_point_socket("CP1", boot=False)
    assert (await answer(socket, "BootNotification", BOOT_PAYLOAD, "b1"))["status"] == "Pending"
    await ChargePoint.objects.filter(charge_point_id="CP1").aupdate(registration_status="Accepted")
    assert (await answer(socket, "BootNotification", BOOT_PAYLOAD, "b2"))["status"] == "Accepted"


async def test_heartbeat(charge_point_socket):
    socket = await charge_point_socket("CP1")
    result = await answer(socket, "Heartbeat", {}, "hb-1")
    assert list(result) == ["currentTime"]
    assert_recent_timestamp(result["currentTime"])
    cp = await ChargePoint.objects.aget(charge_point_id="CP1")
    assert format_ocpp_datetime(cp.last_heartbeat) == result["currentTime"]


async def test_null_payload_is_formation_violation(charge_point_socket):
    socket = await charge_point_socket("CP1")
    frame = await socket.exchange('[2,"hb-null","Heartbeat",null]')
    assert_call_error(frame, "hb-null", "FormationViolation")


# --- Authorize ------------------------------------------------------------------


async def test_authorize_accepted_with_expiry_and_parent(charge_point_socket):
    expiry = datetime(2099, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    parent = await IdTag.objects.acreate(id_tag="PARENT")
    await IdTag.objects.acreate(id_tag="TAG1", expiry_date=expiry, parent=parent)
    socket = await charge_point_socket("CP1")
    result = await answer(socket, "Authorize", {"idTag": "tag1"}, "a-1")
    assert result == {
        "idTagInfo": {
            "status": "Accepted",
            "expiryDate": "2099-01-02T03:04:05.678Z",
            "parentIdTag": "PARENT",
        }
    }
    assert await Transaction.objects.acount() == 0


@pytest.mark.parametrize(
    ("status", "expiry_days", "expected"),
    [("Blocked", None, "Blocked"), ("Accepted", -1, "Expired"), (None, None, "Invalid")],
)
async def test_authorize_refusals(charge_point_socket, status, expiry_days, expected):
    if status:
        expiry = datetime.now(UTC) + timedelta(days=expiry_days) if expiry_days else None
        await IdTag.objects.acreate(id_tag="TAG1", status=status, expiry_date=expiry)
    socket = await charge_point_socket("CP1")
    info = (await answer(socket, "Authorize", {"idTag": "TAG1"}))["idTagInfo"]
    assert info["status"] == expected
    assert set(info) == ({"status", "expiryDate"} if expiry_days else {"status"})


# --- transactions ---------------------------------------------------------------

START = {
    "connectorId": 1,
    "idTag": "TAG1",
    "meterStart": 1000,
    "timestamp": "2024-05-01T12:00:00+02:00",
}


async def test_start_transaction(charge_point_socket):
    tag = await IdTag.objects.acreate(id_tag="TAG1")
    socket = await charge_point_socket("CP1")
    result = await answer(socket, "StartTransaction", START, "s-1")
    tx = await Transaction.objects.select_related("connector", "charge_point").aget()
    assert result == {"transactionId": tx.pk, "idTagInfo": {"status": "Accepted"}}
    assert (tx.charge_point.charge_point_id, tx.connector.connector_id) == ("CP1", 1)
    assert (tx.id_tag, tx.tag_id, tx.meter_start) == ("TAG1", tag.pk, 1000)
    assert tx.start_timestamp == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert tx.start_auth_status == "Accepted" and tx.is_open

    again = await answer(socket, "StartTransaction", START, "s-2")
    assert again == result, "a retransmitted start must get the same transactionId"
    assert await Transaction.objects.acount() == 1


async def test_start_transaction_unknown_tag_is_recorded_invalid(charge_point_socket):
    socket = await charge_point_socket("CP1")
    result = await answer(socket, "StartTransaction", START)
    tx = await Transaction.objects.aget()
    assert result == {"transactionId": tx.pk, "idTagInfo": {"status": "Invalid"}}
    assert tx.start_auth_status == "Invalid"


async def test_start_transaction_concurrent_tx(charge_point_socket):
    await IdTag.objects.acreate(id_tag="TAG1")
    socket = await charge_point_socket("CP1")
    await answer(socket, "StartTransaction", START, "s-1")
    second = await answer(socket, "StartTransaction", dict(START, connectorId=2), "s-2")
    assert second["idTagInfo"] == {"status": "ConcurrentTx"}
    assert await Transaction.objects.acount() == 2


async def test_stop_transaction(charge_point_socket):
    await IdTag.objects.acreate(id_tag="TAG1")
    socket = await charge_point_socket("CP1")
    tx_id = (await answer(socket, "StartTransaction", START))["transactionId"]
    sampled = {"value": "4.5", "unit": "kWh", "context": "Transaction.End"}
    stop = {
        "transactionId": tx_id,
        "idTag": "tag1",
        "meterStop": 5000,
        "timestamp": "2024-05-01T11:00:00Z",
        "reason": "EVDisconnected",
        "transactionData": [{"timestamp": "2024-05-01T11:00:00Z", "sampledValue": [sampled]}],
    }
    result = await answer(socket, "StopTransaction", stop, "stop-1")
    assert result == {"idTagInfo": {"status": "Accepted"}}
    tx = await Transaction.objects.aget(pk=tx_id)
    assert (tx.meter_stop, tx.energy_wh, tx.stop_reason) == (5000, 4000, "EVDisconnected")
    assert tx.stop_timestamp == datetime(2024, 5, 1, 11, 0, tzinfo=UTC)
    assert tx.stop_id_tag == "tag1"
    value = await MeterValue.objects.aget()
    assert (value.transaction_id, value.value, value.unit) == (tx_id, "4.5", "kWh")
    assert value.measurand == "Energy.Active.Import.Register"


async def test_stop_transaction_without_id_tag_answers_empty(charge_point_socket):
    socket = await charge_point_socket("CP1")
    tx_id = (await answer(socket, "StartTransaction", START))["transactionId"]
    stop = {"transactionId": tx_id, "meterStop": 1000, "timestamp": "2024-05-01T11:00:00Z"}
    assert await answer(socket, "StopTransaction", stop, "stop-1") == {}
    tx = await Transaction.objects.aget(pk=tx_id)
    assert (tx.stop_reason, tx.energy_wh) == ("Local", 0)


@pytest.mark.parametrize(
    ("id_tag", "expected"), [(None, {}), ("NOPE", {"idTagInfo": {"status": "Invalid"}})]
)
async def test_stop_transaction_unknown_id_still_answered(charge_point_socket, id_tag, expected):
    socket = await charge_point_socket("CP1")
    stop = {"transactionId": 424242, "meterStop": 7, "timestamp": "2024-05-01T11:00:00Z"}
    if id_tag:
        stop["idTag"] = id_tag
    assert await answer(socket, "StopTransaction", stop, "orphan") == expected
    orphan = await OrphanStopTransaction.objects.select_related("charge_point").aget()
    assert (orphan.transaction_id, orphan.meter_stop, orphan.charge_point.charge_point_id) == (
        424242,
        7,
        "CP1",
    )
    assert await Transaction.objects.acount() == 0


# --- MeterValues, StatusNotification, DataTransfer ---------------------------------


async def test_meter_values(charge_point_socket):
    socket = await charge_point_socket("CP1")
    tx_id = (await answer(socket, "StartTransaction", START))["transactionId"]
    payload = {
        "connectorId": 1,
        "transactionId": tx_id,
        "meterValue": [
            {
                "timestamp": "2024-05-01T10:30:00Z",
                "sampledValue": [
                    {"value": "1234.5"},
                    {"value": "16", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
                ],
            }
        ],
    }
    assert await answer(socket, "MeterValues", payload, "mv-1") == {}
    energy, current = [v async for v in MeterValue.objects.order_by("id")]
    assert (energy.transaction_id, energy.value, energy.numeric_value) == (
        tx_id,
        "1234.5",
        Decimal("1234.5"),
    )
    defaults = (energy.measurand, energy.unit, energy.context, energy.location, energy.format)
    assert defaults == ("Energy.Active.Import.Register", "Wh", "Sample.Periodic", "Outlet", "Raw")
    assert (current.measurand, current.unit, current.phase) == ("Current.Import", "A", "L1")
    assert energy.timestamp == datetime(2024, 5, 1, 10, 30, tzinfo=UTC)


async def test_meter_values_number_value_accepted(charge_point_socket):
    socket = await charge_point_socket("CP1")
    sampled = [{"value": 230.5, "measurand": "Voltage", "unit": "V"}, {"value": 12}]
    payload = {
        "connectorId": 2,
        "meterValue": [{"timestamp": "2024-05-01T10:30:00Z", "sampledValue": sampled}],
    }
    assert await answer(socket, "MeterValues", payload) == {}
    stored = [(v.value, v.numeric_value) async for v in MeterValue.objects.order_by("id")]
    assert stored == [("230.5", Decimal("230.5")), ("12", Decimal("12"))]


async def test_status_notification(charge_point_socket):
    socket = await charge_point_socket("CP1")
    payload = {
        "connectorId": 1,
        "status": "Faulted",
        "errorCode": "GroundFailure",
        "info": "RCD tripped",
        "vendorId": "com.acme",
        "vendorErrorCode": "E42",
        "timestamp": "2024-05-01T10:00:00Z",
    }
    assert await answer(socket, "StatusNotification", payload, "sn-1") == {}
    connector = await Connector.objects.select_related("charge_point").aget()
    assert (connector.charge_point.charge_point_id, connector.connector_id) == ("CP1", 1)
    assert (connector.status, connector.error_code, connector.info) == (
        "Faulted",
        "GroundFailure",
        "RCD tripped",
    )
    assert (connector.vendor_id, connector.vendor_error_code) == ("com.acme", "E42")
    assert connector.status_timestamp == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert await ConnectorStatusLog.objects.acount() == 1

    without_time = {"connectorId": 0, "status": "Available", "errorCode": "NoError"}
    assert await answer(socket, "StatusNotification", without_time, "sn-2") == {}
    whole = await Connector.objects.aget(connector_id=0)
    assert (whole.status, whole.status_timestamp is not None) == ("Available", True)


async def test_data_transfer_unknown_vendor(charge_point_socket):
    socket = await charge_point_socket("CP1")
    payload = {"vendorId": "com.nobody", "messageId": "hello", "data": "x"}
    assert await answer(socket, "DataTransfer", payload, "dt-1") == {"status": "UnknownVendorId"}
    record = await DataTransferRecord.objects.aget()
    assert (record.vendor_id, record.message_id, record.data) == ("com.nobody", "hello", "x")
    assert (record.response_status, record.response_data) == ("UnknownVendorId", "")


async def test_data_transfer_vendor_handler(charge_point_socket):
    @data_transfer_handler("com.acme")
    def handle(*, charge_point_pk, message_id, data):
        return "Accepted", f"pong:{data}"

    try:
        socket = await charge_point_socket("CP1")
        result = await answer(socket, "DataTransfer", {"vendorId": "com.acme", "data": "ping"})
    finally:
        data_transfer_unregister("com.acme")
    assert result == {"status": "Accepted", "data": "pong:ping"}
    record = await DataTransferRecord.objects.aget()
    assert (record.message_id, record.response_status, record.response_data) == (
        "",
        "Accepted",
        "pong:ping",
    )

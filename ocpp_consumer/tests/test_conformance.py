"""OCPP-J conformance points not covered elsewhere: ids, onboarding, retransmissions,
offline sessions, and replaying a journal export."""

import json

import pytest

from drivers.models import IdTag
from ocpp_consumer.admin_journal import _journal_lines
from ocpp_consumer.journal import journal
from ocpp_consumer.models import JournalEntry
from stations.models import ChargePoint, MeterValue, Transaction

from .conftest import BOOT_PAYLOAD, assert_call_error, assert_call_result

pytestmark = pytest.mark.django_db(transaction=True)

START = {
    "connectorId": 1,
    "idTag": "TAG-1",
    "meterStart": 1000,
    "timestamp": "2026-11-20T08:00:00Z",
}
STOP = {"meterStop": 4000, "timestamp": "2026-11-20T09:00:00Z", "reason": "Local"}
SAMPLE = {
    "connectorId": 1,
    "meterValue": [{"timestamp": "2026-11-20T08:30:00Z", "sampledValue": [{"value": "2500"}]}],
}


async def test_long_unique_id_is_answered_with_it(charge_point_socket):
    cp = await charge_point_socket()
    unique_id = "x" * 60
    assert_call_result(await cp.call("Heartbeat", {}, unique_id=unique_id), unique_id)


async def test_null_payload_is_formation_violation(charge_point_socket):
    cp = await charge_point_socket()
    assert_call_error(await cp.call("Heartbeat", None, unique_id="n"), "n", "FormationViolation")


async def test_pending_until_the_operator_accepts(handshake):
    await ChargePoint.objects.acreate(charge_point_id="NEW-1", registration_status="Pending")
    _, cp = await handshake("/ocpp/NEW-1")
    boot = assert_call_result(await cp.call("BootNotification", BOOT_PAYLOAD, unique_id="b1"), "b1")
    assert boot["status"] == "Pending" and boot["interval"] > 0
    assert_call_error(await cp.call("Heartbeat", {}, unique_id="h1"), "h1", "SecurityError")
    await ChargePoint.objects.filter(charge_point_id="NEW-1").aupdate(
        registration_status="Accepted"
    )
    boot = assert_call_result(await cp.call("BootNotification", BOOT_PAYLOAD, unique_id="b2"), "b2")
    assert boot["status"] == "Accepted"
    assert_call_result(await cp.call("Heartbeat", {}, unique_id="h2"), "h2")


async def test_rejected_charge_point_gets_only_boot_answered(handshake):
    await ChargePoint.objects.acreate(charge_point_id="BAD-1", registration_status="Rejected")
    _, cp = await handshake("/ocpp/BAD-1")
    boot = assert_call_result(await cp.call("BootNotification", BOOT_PAYLOAD, unique_id="b"), "b")
    assert boot["status"] == "Rejected"
    status = {"connectorId": 1, "status": "Available", "errorCode": "NoError"}
    assert_call_error(
        await cp.call("StatusNotification", status, unique_id="s"), "s", "SecurityError"
    )


async def test_retransmissions_change_nothing(charge_point_socket):
    await IdTag.objects.acreate(id_tag="TAG-1")
    cp = await charge_point_socket()
    first = assert_call_result(await cp.call("StartTransaction", START, unique_id="s1"), "s1")
    again = assert_call_result(await cp.call("StartTransaction", START, unique_id="s2"), "s2")
    assert first == again
    tx = first["transactionId"]
    for uid in ("m1", "m2"):
        assert_call_result(
            await cp.call("MeterValues", dict(SAMPLE, transactionId=tx), unique_id=uid), uid
        )
    stop = dict(STOP, transactionId=tx)
    assert_call_result(await cp.call("StopTransaction", stop, unique_id="t1"), "t1")
    assert_call_result(
        await cp.call("StopTransaction", dict(stop, meterStop=9999), unique_id="t2"), "t2"
    )
    assert await Transaction.objects.acount() == 1
    assert await MeterValue.objects.acount() == 1
    session = await Transaction.objects.aget(pk=tx)
    assert (session.meter_stop, session.energy_wh) == (4000, 3000)


async def test_offline_session_arriving_late_and_out_of_order(charge_point_socket):
    """Start and stop from the charger's offline queue, then its meter values."""
    cp = await charge_point_socket()
    started = assert_call_result(await cp.call("StartTransaction", START, unique_id="s"), "s")
    tx = started["transactionId"]
    assert started["idTagInfo"]["status"] == "Invalid"  # unknown tag: recorded anyway
    assert_call_result(
        await cp.call("StopTransaction", dict(STOP, transactionId=tx), unique_id="t"), "t"
    )
    assert_call_result(
        await cp.call("MeterValues", dict(SAMPLE, transactionId=tx), unique_id="m"), "m"
    )
    session = await Transaction.objects.aget(pk=tx)
    assert session.stop_timestamp is not None and session.energy_wh == 3000
    sample = await MeterValue.objects.aget()
    assert sample.transaction_id == tx


async def test_a_journal_export_replays_to_the_same_answers(handshake):
    """Export a charger's session from the journal, replay it as another charger."""
    await IdTag.objects.acreate(id_tag="TAG-1")
    _, original = await handshake("/ocpp/REC-1")
    await original.boot()
    started = assert_call_result(await original.call("StartTransaction", START, unique_id="s"), "s")
    stop = dict(STOP, transactionId=started["transactionId"])
    await original.call("StopTransaction", stop, unique_id="t")
    await journal.flush()
    exported = [json.loads(line) for line in await _export("REC-1")]

    _, replay = await handshake("/ocpp/REC-2")
    answers = {}
    for entry in exported:
        if entry["direction"] == "in" and entry["message_type"] == 2:
            frame = await replay.call(
                entry["action"], entry["payload"], unique_id=entry["unique_id"]
            )
            answers[entry["unique_id"]] = frame
    originals = {e["unique_id"]: e for e in exported if e["direction"] == "out"}
    assert set(answers) == set(originals) == {"boot", "s", "t"}
    for unique_id, frame in answers.items():
        expected = originals[unique_id]["payload"]
        assert frame[0] == originals[unique_id]["message_type"] == 3
        assert frame[2].keys() == expected.keys()
        assert frame[2].get("idTagInfo") == expected.get("idTagInfo")
        assert frame[2].get("status") == expected.get("status")


async def _export(charge_point_id):
    from asgiref.sync import sync_to_async

    queryset = JournalEntry.objects.filter(charge_point__charge_point_id=charge_point_id)
    return await sync_to_async(lambda: list(_journal_lines(queryset)))()


async def test_heartbeats_are_answered_but_written_at_most_every_interval(
    charge_point_socket, settings
):
    settings.OCPP_HEARTBEAT_WRITE_INTERVAL = 3600
    cp = await charge_point_socket()
    first = assert_call_result(await cp.call("Heartbeat", {}, unique_id="h1"), "h1")
    written = (await ChargePoint.objects.aget(charge_point_id="CP1")).last_heartbeat
    second = assert_call_result(await cp.call("Heartbeat", {}, unique_id="h2"), "h2")
    assert second["currentTime"] >= first["currentTime"]
    assert (await ChargePoint.objects.aget(charge_point_id="CP1")).last_heartbeat == written
    settings.OCPP_HEARTBEAT_WRITE_INTERVAL = 0
    assert_call_result(await cp.call("Heartbeat", {}, unique_id="h3"), "h3")
    assert (await ChargePoint.objects.aget(charge_point_id="CP1")).last_heartbeat > written

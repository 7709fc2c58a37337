"""OCPP 2.0.1 TransactionEvent and MeterValues through a charging station's socket.

The same sessions, energy rules, tariff snapshot and invoices as 1.6: every
answer is the exact frame, valid against the official 2.0.1 schema.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async

from billing import subscribers
from billing.models import Invoice, Tariff
from billing.tests.helpers import registered_long_ago
from drivers.models import IdTag
from events.relay import outbox_relay
from stations.choices import SessionStatus
from stations.models import ChargePoint, Connector, MeterValue, Transaction, TransactionEventLog

from ..conftest import assert_call_error
from .station import answer_201, station_201

pytestmark = pytest.mark.django_db(transaction=True)

CP = "CP201-TX"


@pytest.fixture(autouse=True)
def relay_by_hand(monkeypatch):
    """No nudge: the test runs the relay itself, once the frames are answered."""
    monkeypatch.setattr(subscribers, "relay_outbox_nudge", lambda: None)


@sync_to_async
def prepare() -> Tariff:
    charge_point = registered_long_ago(
        ChargePoint.objects.create(charge_point_id=CP, registration_status="Accepted")
    )
    IdTag.objects.create(id_tag="04A2B3C4D5")
    IdTag.objects.create(id_tag="BLOCKED-1", status="Blocked")
    return Tariff.objects.create(
        name="201", charge_point=charge_point, price_per_kwh=Decimal("0.4000")
    )


def reading(at: str, value, context: str = "Sample.Periodic", **unit) -> dict:
    sampled = {"value": value, "context": context}
    if unit:
        sampled["unitOfMeasure"] = unit
    return {"timestamp": at, "sampledValue": [sampled]}


def transaction_event(
    event_type: str, seq_no: int, at: str, *, tx: str = "TX-201", **fields
) -> dict:
    payload = {
        "eventType": event_type,
        "timestamp": at,
        "triggerReason": fields.pop("trigger", "MeterValuePeriodic"),
        "seqNo": seq_no,
        "transactionInfo": {"transactionId": tx, **fields.pop("info", {})},
    }
    payload.update(fields)
    return payload


CARD = {"idToken": "04a2b3c4d5", "type": "ISO14443"}  # the tag's UID, other case

STARTED = transaction_event(
    "Started",
    0,
    "2024-05-01T10:00:00Z",
    trigger="Authorized",
    evse={"id": 1, "connectorId": 1},
    idToken=CARD,
    info={"chargingState": "Charging"},
    meterValue=[reading("2024-05-01T10:00:00Z", 10.0, "Transaction.Begin", unit="kWh")],
)
UPDATED = transaction_event(
    "Updated",
    1,
    "2024-05-01T10:30:00Z",
    # 12.5 kWh as 1.25 with multiplier 1: value * 10^multiplier.
    meterValue=[reading("2024-05-01T10:30:00Z", 1.25, unit="kWh", multiplier=1)],
)
ENDED = transaction_event(
    "Ended",
    2,
    "2024-05-01T11:00:00Z",
    trigger="EVDeparted",
    info={"stoppedReason": "EVDisconnected"},
    meterValue=[reading("2024-05-01T11:00:00Z", 17500, "Transaction.End")],
)


async def relay_and_get_invoice(session_pk: int) -> Invoice | None:
    await sync_to_async(outbox_relay)()
    return await Invoice.objects.filter(transaction_id=session_pk).afirst()


async def test_a_session_from_started_to_ended_is_billed_at_its_start_prices(
    charge_point_socket,
):
    tariff = await prepare()
    socket = await station_201(charge_point_socket, CP)

    started = await answer_201(socket, "TransactionEvent", STARTED, "s")
    assert started == {"idTokenInfo": {"status": "Accepted"}}
    session = await Transaction.objects.aget(ocpp_transaction_id="TX-201")
    assert session.status == SessionStatus.RUNNING
    assert session.tariff_snapshot["price_per_kwh"] == "0.4000"

    tariff.price_per_kwh = Decimal("9.0000")  # later changes never reprice it
    await tariff.asave()
    assert await answer_201(socket, "TransactionEvent", UPDATED, "u") == {}
    assert await answer_201(socket, "TransactionEvent", ENDED, "e") == {}

    session = await Transaction.objects.select_related("connector").aget(pk=session.pk)
    assert session.connector.connector_id == 1
    assert (session.meter_start, session.meter_stop, session.energy_wh) == (10_000, 17_500, 7_500)
    assert session.stop_reason == "EVDisconnected"
    assert session.id_tag == "04a2b3c4d5"
    values = [
        (v.value, v.unit)
        async for v in MeterValue.objects.filter(transaction=session).order_by("timestamp")
    ]
    assert values == [("10", "kWh"), ("12.5", "kWh"), ("17500", "Wh")]

    invoice = await relay_and_get_invoice(session.pk)
    assert invoice is not None
    assert invoice.net_total == Decimal("3.00")  # 7.5 kWh at 0.40, the price at start
    assert invoice.tariff_snapshot["price_per_kwh"] == "0.4000"


async def test_a_retransmitted_event_gets_the_same_answer_and_changes_nothing(
    charge_point_socket,
):
    await prepare()
    socket = await station_201(charge_point_socket, CP)
    first = await answer_201(socket, "TransactionEvent", STARTED, "a")
    again = await answer_201(socket, "TransactionEvent", STARTED, "b")

    assert first == again == {"idTokenInfo": {"status": "Accepted"}}
    assert await Transaction.objects.acount() == 1
    assert await TransactionEventLog.objects.acount() == 1
    assert await MeterValue.objects.acount() == 1


async def test_offline_events_out_of_order_and_after_ended_keep_the_session_right(
    charge_point_socket,
):
    await prepare()
    socket = await station_201(charge_point_socket, CP)
    offline = {"offline": True}
    # Back online, the charger sends what it queued, Ended before an Updated.
    await answer_201(socket, "TransactionEvent", {**STARTED, **offline}, "1")
    await answer_201(socket, "TransactionEvent", {**ENDED, **offline}, "2")
    await answer_201(socket, "TransactionEvent", {**UPDATED, **offline}, "3")

    session = await Transaction.objects.aget(ocpp_transaction_id="TX-201")
    assert session.status == SessionStatus.ENDED
    assert (session.energy_wh, session.stop_reason) == (7_500, "EVDisconnected")
    assert not session.is_disputed
    assert await MeterValue.objects.filter(transaction=session).acount() == 3
    logged = [
        (row.seq_no, row.offline)
        async for row in TransactionEventLog.objects.filter(transaction=session)
    ]
    assert logged == [(0, True), (1, True), (2, True)]
    assert await relay_and_get_invoice(session.pk) is not None


async def test_a_refused_id_token_makes_a_refused_session_never_billed(charge_point_socket):
    await prepare()
    socket = await station_201(charge_point_socket, CP)
    blocked = {**STARTED, "idToken": {"idToken": "BLOCKED-1", "type": "ISO14443"}}

    answer = await answer_201(socket, "TransactionEvent", blocked, "s")
    await answer_201(socket, "TransactionEvent", ENDED, "e")

    assert answer == {"idTokenInfo": {"status": "Blocked"}}
    session = await Transaction.objects.aget(ocpp_transaction_id="TX-201")
    assert session.status == SessionStatus.REFUSED
    assert not session.is_open
    assert await relay_and_get_invoice(session.pk) is None


async def test_an_unknown_token_is_answered_unknown(charge_point_socket):
    await prepare()
    socket = await station_201(charge_point_socket, CP)
    stranger = {**STARTED, "idToken": {"idToken": "DEADBEEF", "type": "ISO14443"}}
    answer = await answer_201(socket, "TransactionEvent", stranger, "s")
    assert answer == {"idTokenInfo": {"status": "Unknown"}}


async def test_an_ended_event_for_an_unknown_transaction_begins_and_ends_it(
    charge_point_socket,
):
    await prepare()
    socket = await station_201(charge_point_socket, CP)
    ended_only = transaction_event(
        "Ended",
        5,
        "2024-05-01T11:00:00Z",
        tx="LOST-START",
        trigger="StopAuthorized",
        evse={"id": 2},
        idToken=CARD,
        info={"stoppedReason": "Local"},
        meterValue=[
            reading("2024-05-01T10:00:00Z", 20, "Transaction.Begin", unit="kWh"),
            reading("2024-05-01T11:00:00Z", 26, "Transaction.End", unit="kWh"),
        ],
    )

    answer = await answer_201(socket, "TransactionEvent", ended_only, "e")

    assert answer == {"idTokenInfo": {"status": "Accepted"}}
    session = await Transaction.objects.select_related("connector").aget(
        ocpp_transaction_id="LOST-START"
    )
    assert session.connector.connector_id == 2
    assert (session.status, session.energy_wh, session.stop_reason) == ("ended", 6_000, "Local")
    assert await relay_and_get_invoice(session.pk) is not None


async def test_meter_values_outside_a_transaction_are_stored_against_the_evse(
    charge_point_socket,
):
    await prepare()
    socket = await station_201(charge_point_socket, CP)
    payload = {
        "evseId": 0,
        "meterValue": [
            {
                "timestamp": "2024-05-01T09:00:00Z",
                "sampledValue": [
                    {"value": 230.1, "measurand": "Voltage", "unitOfMeasure": {"unit": "V"}},
                    {"value": 1.5, "unitOfMeasure": {"unit": "kWh", "multiplier": 3}},
                ],
            }
        ],
    }

    assert await answer_201(socket, "MeterValues", payload, "m") == {}

    rows = [
        (row.measurand, row.value, row.unit, row.transaction_id, row.connector.connector_id)
        async for row in MeterValue.objects.select_related("connector").order_by("measurand")
    ]
    assert rows == [
        ("Energy.Active.Import.Register", "1500", "kWh", None, 0),
        ("Voltage", "230.1", "V", None, 0),
    ]


async def test_negative_sequence_numbers_are_refused(charge_point_socket):
    await prepare()
    socket = await station_201(charge_point_socket, CP)
    frame = await socket.call("TransactionEvent", {**STARTED, "seqNo": -1}, "neg")
    assert "seqNo" in assert_call_error(frame, "neg", "PropertyConstraintViolation")
    assert await Transaction.objects.acount() == 0


async def test_the_evse_shows_charging_while_its_session_runs(charge_point_socket):
    """A 2.0.1 plug stays Occupied through the session: the EVSE follows the session."""
    await prepare()
    socket = await station_201(charge_point_socket, CP)
    plugged = {
        "timestamp": "2024-05-01T09:59:00Z",
        "connectorStatus": "Occupied",
        "evseId": 1,
        "connectorId": 1,
    }
    await answer_201(socket, "StatusNotification", plugged, "plug")

    async def evse_status():
        return (
            await Connector.objects.filter(charge_point__charge_point_id=CP, connector_id=1)
            .values_list("status", flat=True)
            .aget()
        )

    assert await evse_status() == "Preparing"
    await answer_201(socket, "TransactionEvent", STARTED, "s")
    assert await evse_status() == "Charging"
    await answer_201(socket, "TransactionEvent", ENDED, "e")
    assert await evse_status() == "Preparing"  # still plugged in, no session

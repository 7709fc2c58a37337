"""Prices fixed at start, through a real charge point socket and the outbox relay."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async

from billing import subscribers
from billing.models import Invoice, Tariff
from drivers.models import IdTag
from events.relay import outbox_relay
from ocpp_consumer.tests.conftest import assert_call_result
from stations.models import ChargePoint, Transaction

from .helpers import registered_long_ago

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def relay_by_hand(monkeypatch):
    """No nudge: the test runs the relay itself, once the frames are answered."""
    monkeypatch.setattr(subscribers, "relay_outbox_nudge", lambda: None)


async def answer(socket, action: str, payload: dict) -> dict:
    unique_id = uuid.uuid4().hex
    return assert_call_result(await socket.call(action, payload, unique_id), unique_id)


@sync_to_async
def prepare() -> Tariff:
    charge_point = registered_long_ago(
        ChargePoint.objects.create(charge_point_id="CP-PRICE", registration_status="Accepted")
    )
    IdTag.objects.create(id_tag="TAG1")
    return Tariff.objects.create(
        name="CP", charge_point=charge_point, price_per_kwh=Decimal("0.3000")
    )


@sync_to_async
def change_tariffs_while_charging(tariff: Tariff, transaction_id: int) -> None:
    tariff.price_per_kwh = Decimal("0.9000")
    tariff.save()
    Tariff.objects.create(
        name="Connector",
        connector=Transaction.objects.get(pk=transaction_id).connector,
        price_per_kwh=Decimal("5.0000"),
        priority=10,
    )


async def test_start_transaction_frame_fixes_the_prices_of_its_invoice(charge_point_socket):
    tariff = await prepare()
    socket = await charge_point_socket("CP-PRICE")
    start = {
        "connectorId": 1,
        "idTag": "TAG1",
        "meterStart": 1000,
        "timestamp": "2024-05-01T10:00:00Z",
    }
    started = await answer(socket, "StartTransaction", start)
    assert started["idTagInfo"] == {"status": "Accepted"}
    tx_id = started["transactionId"]
    session = await Transaction.objects.aget(pk=tx_id)
    assert session.tariff_snapshot["price_per_kwh"] == "0.3000"

    await change_tariffs_while_charging(tariff, tx_id)
    again = await answer(socket, "StartTransaction", start)  # a lost reply, retransmitted
    assert again["transactionId"] == tx_id
    stop = {"transactionId": tx_id, "meterStop": 11_000, "timestamp": "2024-05-01T11:00:00Z"}
    await answer(socket, "StopTransaction", stop)

    await sync_to_async(outbox_relay)()
    invoice = await Invoice.objects.aget(transaction_id=tx_id)
    assert invoice.net_total == Decimal("3.00")  # 10 kWh at 0.30, the price at start
    assert invoice.tariff_id == tariff.pk
    session = await Transaction.objects.aget(pk=tx_id)
    assert session.tariff_snapshot["price_per_kwh"] == "0.3000"

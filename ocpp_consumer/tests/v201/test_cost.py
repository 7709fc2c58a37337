"""The cost of a 2.0.1 session: totalCost in TransactionEvent answers, and CostUpdated.

The running cost comes from the prices fixed at the session's start; the
final one equals the invoice's total.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.models import Tariff
from stations.models import Transaction

from ..test_api_commands import answer, api_post, next_call, operator_client
from .station import answer_201, station_201
from .test_transactions import (
    CP,
    ENDED,
    STARTED,
    UPDATED,
    prepare,
    relay_and_get_invoice,
    relay_by_hand,  # noqa: F401  (autouse fixture)
)

pytestmark = pytest.mark.django_db(transaction=True)


async def test_total_cost_runs_and_ends_at_the_invoice_total(charge_point_socket):
    tariff = await prepare()
    # A session fee and VAT: the total is more than energy times price.
    await Tariff.objects.filter(pk=tariff.pk).aupdate(
        session_fee=Decimal("0.50"), vat_rate=Decimal("20.00")
    )
    socket = await station_201(charge_point_socket, CP)

    started = await answer_201(socket, "TransactionEvent", STARTED, "s")
    assert "totalCost" not in started
    updated = await answer_201(socket, "TransactionEvent", UPDATED, "u")
    assert updated == {"totalCost": 1.8}  # (2.5 kWh x 0.40 + 0.50) x 1.20
    ended = await answer_201(socket, "TransactionEvent", ENDED, "e")

    session = await Transaction.objects.aget(ocpp_transaction_id="TX-201")
    invoice = await relay_and_get_invoice(session.pk)
    assert invoice is not None
    assert ended == {"totalCost": float(invoice.total)}
    assert invoice.total == Decimal("4.20")  # (7.5 kWh x 0.40 + 0.50) x 1.20


async def test_a_session_without_prices_gets_no_total_cost(charge_point_socket):
    tariff = await prepare()
    await tariff.adelete()  # no tariff applies: nothing fixed at the start
    socket = await station_201(charge_point_socket, CP)
    await answer_201(socket, "TransactionEvent", STARTED, "s")
    assert await answer_201(socket, "TransactionEvent", UPDATED, "u") == {}


async def test_cost_updated_sent_through_the_api(charge_point_socket):
    await prepare()
    socket = await station_201(charge_point_socket, CP)
    await answer_201(socket, "TransactionEvent", STARTED, "s")
    await answer_201(socket, "TransactionEvent", UPDATED, "u")
    client = await operator_client()

    pending = api_post(
        client, f"/api/v1/charge-points/{CP}/cost-updates/", {"transaction_id": "TX-201"}
    )
    frame = await next_call(socket, "CostUpdated")
    assert frame[3] == {"totalCost": 1.0, "transactionId": "TX-201"}
    await answer(socket, frame, {})
    response = await pending
    assert response.status_code == 200, response.content
    assert response.json() == {"total_cost": 1.0, "response": {}}

    unknown = await api_post(
        client, f"/api/v1/charge-points/{CP}/cost-updates/", {"transaction_id": "NOPE"}
    )
    assert unknown.status_code == 404

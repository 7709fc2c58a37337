"""A whole OCPP 2.0.1 charging session from a real client to an invoice.

Daphne and a Celery worker run as real processes on 127.0.0.1 against this
run's database; the charging station is the `ocpp` package's v201
ChargePoint client over `websockets`.
"""

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import websockets
from ocpp.v201 import ChargePoint, call

from billing.models import Invoice, Tariff
from csms_project import testing
from drivers.models import IdTag
from stations.models import ChargePoint as ChargePointModel
from stations.models import Transaction, TransactionEventLog

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

STATION_ID = "E2E-201"
CARD = {"id_token": "e2e-card", "type": "ISO14443"}


def register_value(at: str, kwh: float, context: str) -> list[dict]:
    return [
        {
            "timestamp": at,
            "sampled_value": [
                {"value": kwh, "context": context, "unit_of_measure": {"unit": "kWh"}}
            ],
        }
    ]


async def drive_session(ws_url: str) -> dict:
    """Play a charging station: boot, authorize, Started / Updated / Ended."""
    async with websockets.connect(ws_url, subprotocols=["ocpp2.0.1"]) as ws:
        station = ChargePoint(STATION_ID, ws, response_timeout=15)
        listener = asyncio.create_task(station.start())
        try:
            boot = await station.call(
                call.BootNotification(
                    charging_station={"vendor_name": "E2EVendor", "model": "E2E-201"},
                    reason="PowerUp",
                )
            )
            authorized = await station.call(call.Authorize(id_token=CARD))
            events = []
            for seq_no, (event_type, at, kwh, context, extra) in enumerate(
                [
                    ("Started", "10:00", 10.0, "Transaction.Begin", {"id_token": CARD}),
                    ("Updated", "10:30", 12.5, "Sample.Periodic", {}),
                    ("Ended", "11:00", 17.5, "Transaction.End", {}),
                ]
            ):
                info = {"transaction_id": "e2e-tx-1"}
                if event_type == "Ended":
                    info["stopped_reason"] = "EVDisconnected"
                timestamp = f"2026-11-26T{at}:00Z"
                events.append(
                    await station.call(
                        call.TransactionEvent(
                            event_type=event_type,
                            timestamp=timestamp,
                            trigger_reason="Authorized" if seq_no == 0 else "MeterValuePeriodic",
                            seq_no=seq_no,
                            transaction_info=info,
                            evse={"id": 1, "connector_id": 1} if seq_no == 0 else None,
                            meter_value=register_value(timestamp, kwh, context),
                            **extra,
                        )
                    )
                )
        finally:
            listener.cancel()
    return {"boot": boot, "authorized": authorized, "events": events}


def test_a_2_0_1_session_end_to_end(tmp_path):
    Tariff.objects.create(
        name="E2E",
        currency="EUR",
        price_per_kwh=Decimal("0.4000"),
        vat_rate=Decimal("20"),
        is_default=True,
        priority=10,
    )
    IdTag.objects.create(id_tag="E2E-CARD")
    registered = ChargePointModel.objects.create(
        charge_point_id=STATION_ID, registration_status="Accepted"
    )
    ChargePointModel.objects.filter(pk=registered.pk).update(
        created_at=datetime(2026, 11, 1, tzinfo=UTC)
    )
    env = testing.process_env(OCPP_AUTO_REGISTER="1")

    with testing.daphne_node(env, tmp_path) as base_url, testing.celery_worker(env, tmp_path):
        ws_url = base_url.replace("http://", "ws://") + f"/ocpp/{STATION_ID}"
        answers = asyncio.run(drive_session(ws_url))
        invoice = testing.wait_until(
            lambda: Invoice.objects.filter(transaction__ocpp_transaction_id="e2e-tx-1").first(),
            timeout=60,
        )

    assert answers["boot"].status == "Accepted"
    assert answers["authorized"].id_token_info == {"status": "Accepted"}
    started, updated, ended = answers["events"]
    assert started.id_token_info == {"status": "Accepted"}
    assert updated.id_token_info is None and ended.id_token_info is None

    session = Transaction.objects.get(ocpp_transaction_id="e2e-tx-1")
    assert session.charge_point.ocpp_version == "2.0.1"
    assert (session.meter_start, session.meter_stop, session.energy_wh) == (10_000, 17_500, 7_500)
    assert (session.status, session.stop_reason) == ("ended", "EVDisconnected")
    assert session.tariff_snapshot["price_per_kwh"] == "0.4000"
    assert TransactionEventLog.objects.filter(transaction=session).count() == 3

    assert invoice.transaction == session
    assert (invoice.energy_wh, invoice.currency) == (7_500, "EUR")
    assert (invoice.net_total, invoice.vat_total, invoice.total) == (
        Decimal("3.00"),
        Decimal("0.60"),
        Decimal("3.60"),
    )

"""A whole charging session from a real OCPP client to an invoice.

Daphne and a Celery worker run as real processes on 127.0.0.1 against this
run's database (and, when REDIS_URL is set, the real Redis as channel layer
and broker); the charge point is the `ocpp` package's ChargePoint client.
"""

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import websockets
from ocpp.v16 import ChargePoint, call
from ocpp.v16.enums import (
    AuthorizationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    Reason,
    RegistrationStatus,
)

from billing.models import Invoice, Tariff
from csms_project import testing
from drivers.models import IdTag
from stations.models import ChargePoint as ChargePointModel
from stations.models import ConnectorStatusLog, MeterValue, Transaction

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHARGE_POINT_ID = "E2E-CP-1"


async def drive_session(ws_url: str) -> dict:
    """Play a charge point: boot, status, authorize, start, meter values, stop."""
    async with websockets.connect(ws_url, subprotocols=["ocpp1.6"]) as ws:
        client = ChargePoint(CHARGE_POINT_ID, ws, response_timeout=15)
        listener = asyncio.create_task(client.start())
        try:
            boot = await client.call(
                call.BootNotification(
                    charge_point_vendor="E2EVendor",
                    charge_point_model="E2EModel",
                    charge_point_serial_number="SN-42",
                    firmware_version="1.2.3",
                )
            )
            await client.call(call.Heartbeat())
            for status in (ChargePointStatus.available, ChargePointStatus.preparing):
                await client.call(
                    call.StatusNotification(
                        connector_id=1, error_code=ChargePointErrorCode.no_error, status=status
                    )
                )
            authorized = await client.call(call.Authorize(id_tag="e2e-tag"))
            started = await client.call(
                call.StartTransaction(
                    connector_id=1,
                    id_tag="E2E-TAG",
                    meter_start=10_000,
                    timestamp="2026-11-26T10:00:00Z",
                )
            )
            tx_id = started.transaction_id
            await client.call(
                call.StatusNotification(
                    connector_id=1,
                    error_code=ChargePointErrorCode.no_error,
                    status=ChargePointStatus.charging,
                )
            )
            for minute, register_kwh in ((15, "12.5"), (30, "15.0")):
                await client.call(
                    call.MeterValues(
                        connector_id=1,
                        transaction_id=tx_id,
                        meter_value=[
                            {
                                "timestamp": f"2026-11-26T10:{minute}:00Z",
                                "sampledValue": [
                                    {"value": register_kwh, "unit": "kWh"},
                                    {
                                        "value": "7400",
                                        "measurand": "Power.Active.Import",
                                        "unit": "W",
                                    },
                                ],
                            }
                        ],
                    )
                )
            stopped = await client.call(
                call.StopTransaction(
                    meter_stop=17_500,
                    timestamp="2026-11-26T10:45:00Z",
                    transaction_id=tx_id,
                    reason=Reason.ev_disconnected,
                    id_tag="E2E-TAG",
                )
            )
            await client.call(
                call.StatusNotification(
                    connector_id=1,
                    error_code=ChargePointErrorCode.no_error,
                    status=ChargePointStatus.available,
                )
            )
        finally:
            listener.cancel()
    return {"boot": boot, "authorized": authorized, "started": started, "stopped": stopped}


def test_charging_session_end_to_end(tmp_path):
    Tariff.objects.create(
        name="E2E",
        currency="EUR",
        price_per_kwh=Decimal("0.4000"),
        vat_rate=Decimal("20"),
        is_default=True,
        priority=10,
    )
    IdTag.objects.create(id_tag="E2E-TAG")
    # Registered before the session it reports (an earlier start is disputed).
    registered = ChargePointModel.objects.create(
        charge_point_id=CHARGE_POINT_ID, registration_status="Accepted"
    )
    ChargePointModel.objects.filter(pk=registered.pk).update(
        created_at=datetime(2026, 11, 1, tzinfo=UTC)
    )
    env = testing.process_env(OCPP_AUTO_REGISTER="1")

    with testing.daphne_node(env, tmp_path) as base_url, testing.celery_worker(env, tmp_path):
        ws_url = base_url.replace("http://", "ws://") + f"/ocpp/{CHARGE_POINT_ID}"
        answers = asyncio.run(drive_session(ws_url))
        invoice = testing.wait_until(
            lambda: (
                Invoice.objects.filter(transaction__charge_point__charge_point_id=CHARGE_POINT_ID)
                .prefetch_related("lines")
                .first()
            ),
            timeout=60,
        )

    assert answers["boot"].status == RegistrationStatus.accepted
    assert answers["boot"].interval == 300
    assert answers["authorized"].id_tag_info["status"] == AuthorizationStatus.accepted
    assert answers["started"].id_tag_info["status"] == AuthorizationStatus.accepted
    assert answers["stopped"].id_tag_info["status"] == AuthorizationStatus.accepted

    charge_point = ChargePointModel.objects.get(charge_point_id=CHARGE_POINT_ID)
    assert (charge_point.vendor, charge_point.model) == ("E2EVendor", "E2EModel")
    assert charge_point.charge_point_serial_number == "SN-42"
    assert charge_point.firmware_version == "1.2.3"
    assert charge_point.last_heartbeat is not None

    session = Transaction.objects.get(pk=answers["started"].transaction_id)
    assert session.charge_point == charge_point
    assert session.connector.connector_id == 1
    assert (session.meter_start, session.meter_stop) == (10_000, 17_500)
    assert session.energy_wh == 7_500
    assert session.stop_reason == "EVDisconnected"

    readings = MeterValue.objects.filter(transaction=session)
    assert readings.count() == 4
    registers = readings.filter(measurand="Energy.Active.Import.Register").order_by("timestamp")
    assert [(r.value, r.unit) for r in registers] == [("12.5", "kWh"), ("15.0", "kWh")]

    connector = session.connector
    connector.refresh_from_db()
    assert connector.status == "Unavailable"  # the client has disconnected
    history = ConnectorStatusLog.objects.filter(connector=connector).order_by("id")
    assert [h.status for h in history] == ["Available", "Preparing", "Charging", "Available"]

    assert invoice.transaction == session
    assert invoice.energy_wh == 7_500
    assert invoice.currency == "EUR"
    assert invoice.net_total == Decimal("3.00")
    assert invoice.vat_total == Decimal("0.60")
    assert invoice.total == Decimal("3.60")
    assert [line.component for line in invoice.lines.all()] == ["energy"]
    assert invoice.number.endswith("-000001")

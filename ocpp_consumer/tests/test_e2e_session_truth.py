"""Real charger habits, replayed by a real OCPP client against real Daphne and a worker.

Each misbehaviour that used to make the record wrong (refused starts that
were never stopped, a second start on a busy connector, a meter reset,
absurd or out-of-range figures, a price edited under a running session) is
played by the `ocpp` package's ChargePoint client; the record is read back
afterwards.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import websockets
from django.utils import timezone
from ocpp.v16 import ChargePoint, call

from billing.models import Invoice, Tariff
from csms_project import testing
from csms_project.celery import app as celery_app
from drivers.models import IdTag
from stations.choices import SessionStatus
from stations.models import ChargePoint as ChargePointModel
from stations.models import Transaction

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Charger:
    """One charge point played by the ocpp package's client."""

    def __init__(self, ws, charge_point_id: str):
        self.client = ChargePoint(charge_point_id, ws, response_timeout=15)

    async def start(self, connector_id, id_tag, meter_start, at):
        return await self.client.call(
            call.StartTransaction(
                connector_id=connector_id, id_tag=id_tag, meter_start=meter_start, timestamp=iso(at)
            )
        )

    async def meter(self, connector_id, transaction_id, wh, at):
        await self.client.call(
            call.MeterValues(
                connector_id=connector_id,
                transaction_id=transaction_id,
                meter_value=[{"timestamp": iso(at), "sampledValue": [{"value": str(wh)}]}],
            )
        )

    async def stop(self, transaction_id, meter_stop, at):
        return await self.client.call(
            call.StopTransaction(
                transaction_id=transaction_id, meter_stop=meter_stop, timestamp=iso(at)
            )
        )


async def play(ws_url: str, charge_point_id: str, scenario):
    async with websockets.connect(f"{ws_url}/{charge_point_id}", subprotocols=["ocpp1.6"]) as ws:
        charger = Charger(ws, charge_point_id)
        listener = asyncio.create_task(charger.client.start())
        try:
            await charger.client.call(
                call.BootNotification(charge_point_vendor="V", charge_point_model="M")
            )
            return await scenario(charger)
        finally:
            listener.cancel()


@pytest.fixture
def network():
    IdTag.objects.create(id_tag="DRIVER")
    IdTag.objects.create(id_tag="OTHER")
    Tariff.objects.filter(is_default=True).delete()  # a transactional test may find one
    Tariff.objects.create(
        name="Truth", currency="EUR", price_per_kwh=Decimal("0.40"), is_default=True
    )
    for name in ("TRUTH-1", "TRUTH-2"):
        charge_point = ChargePointModel.objects.create(
            charge_point_id=name, registration_status="Accepted"
        )
        ChargePointModel.objects.filter(pk=charge_point.pk).update(
            created_at=timezone.now() - timedelta(days=7)
        )
    env = testing.process_env()
    return env


def test_refused_and_repeated_starts_and_absurd_figures(network, tmp_path):
    t0 = timezone.now() - timedelta(hours=6)

    async def scenario(charger):
        ids = {}
        running = await charger.start(1, "DRIVER", 1000, t0)
        ids["running"] = running.transaction_id
        # The same driver elsewhere: refused, and (like many chargers) never stopped.
        refused = await charger.start(2, "DRIVER", 5000, t0 + timedelta(minutes=1))
        ids["refused"], ids["refused_status"] = (
            refused.transaction_id,
            refused.id_tag_info["status"],
        )
        await charger.stop(ids["running"], 3000, t0 + timedelta(minutes=30))
        again = await charger.start(3, "DRIVER", 9000, t0 + timedelta(minutes=40))
        ids["after"], ids["after_status"] = again.transaction_id, again.id_tag_info["status"]
        # A second start on connector 3, whose session's stop the charger lost.
        newer = await charger.start(3, "OTHER", 9500, t0 + timedelta(minutes=50))
        ids["newer"] = newer.transaction_id
        # meterStart -5 then meterStop 2^63-1 on connector 4: answered, never InternalError.
        wild = await charger.start(4, "OTHER", -5, t0 + timedelta(minutes=55))
        ids["wild_stop"] = await charger.stop(
            wild.transaction_id, 2**63 - 1, t0 + timedelta(hours=1)
        )
        ids["wild"] = wild.transaction_id
        # meterStop below meterStart and no readings on connector 5.
        unknown = await charger.start(5, "DRIVER", 20_000, t0 + timedelta(hours=2))
        await charger.stop(unknown.transaction_id, 100, t0 + timedelta(hours=3))
        ids["unknown"] = unknown.transaction_id
        return ids

    with testing.daphne_node(network, tmp_path) as base_url:
        ids = asyncio.run(play(base_url.replace("http", "ws") + "/ocpp", "TRUTH-1", scenario))

    assert ids["refused_status"] == "ConcurrentTx"
    refused = Transaction.objects.get(pk=ids["refused"])
    assert refused.status == SessionStatus.REFUSED and not refused.is_open
    assert ids["after_status"] == "Accepted"  # the refused start blocks nobody
    lost_stop = Transaction.objects.get(pk=ids["after"])
    assert lost_stop.status == SessionStatus.SUPERSEDED
    assert lost_stop.meter_stop == 9500 and lost_stop.is_disputed
    assert Transaction.objects.get(pk=ids["newer"]).status == SessionStatus.RUNNING
    wild = Transaction.objects.get(pk=ids["wild"])
    assert wild.stop_timestamp is not None and wild.is_disputed
    assert ids["wild_stop"] is not None  # a CALLRESULT, not a CALLERROR
    unknown = Transaction.objects.get(pk=ids["unknown"])
    assert unknown.is_disputed and "energy is unknown" in unknown.dispute_reason
    per_connector = Transaction.objects.filter(status=SessionStatus.RUNNING).values_list(
        "connector_id", flat=True
    )
    assert len(per_connector) == len(set(per_connector))


def test_meter_resets_absurd_energy_and_price_edits(network, tmp_path):
    t0 = timezone.now() - timedelta(hours=6)
    tariff = Tariff.objects.get(is_default=True)

    async def scenario(charger):
        ids = {}
        reset = await charger.start(1, "DRIVER", 70_000, t0)
        ids["reset"] = reset.transaction_id
        await charger.meter(1, reset.transaction_id, 76_000, t0 + timedelta(minutes=20))
        await charger.meter(1, reset.transaction_id, 200, t0 + timedelta(minutes=30))
        # The operator doubles the price while the session runs.
        await asyncio.to_thread(
            Tariff.objects.filter(pk=tariff.pk).update, price_per_kwh=Decimal("0.80")
        )
        await charger.stop(reset.transaction_id, 1500, t0 + timedelta(minutes=60))
        huge = await charger.start(2, "OTHER", 0, t0 + timedelta(hours=1))
        await charger.stop(huge.transaction_id, 500_000_000, t0 + timedelta(hours=2))
        ids["huge"] = huge.transaction_id
        ancient = await charger.start(3, "OTHER", 0, datetime(2000, 1, 1, tzinfo=UTC))
        ids["ancient"] = ancient.transaction_id
        return ids

    celery_app.conf.task_always_eager = False  # the root conftest restores eager mode
    with (
        testing.daphne_node(network, tmp_path) as base_url,
        testing.celery_worker(network, tmp_path, beat=True),
    ):
        ids = asyncio.run(play(base_url.replace("http", "ws") + "/ocpp", "TRUTH-2", scenario))
        invoice = testing.wait_until(
            lambda: Invoice.objects.filter(transaction_id=ids["reset"]).first(), timeout=90
        )

    reset = Transaction.objects.get(pk=ids["reset"])
    assert reset.energy_wh == 7300  # 70,000 -> 76,000, then 200 -> 1,500
    assert not reset.is_disputed
    # Invoiced at the price in force when it started (7.3 kWh x 0.40), in this year.
    assert invoice.net_total == Decimal("2.92")
    assert invoice.number.startswith(f"{timezone.now().year}-")
    huge = Transaction.objects.get(pk=ids["huge"])
    assert huge.is_disputed and not Invoice.objects.filter(transaction=huge).exists()
    assert Transaction.objects.get(pk=ids["ancient"]).is_disputed

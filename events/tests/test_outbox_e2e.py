"""Invoices survive a broker outage: real Daphne, a real worker with beat, a private Redis.

The broker (a redis-server of this test alone) is stopped before sessions
end: the charge point's stops are answered and committed, the invoicing
events wait in the outbox. Once the broker is back, the worker's periodic
relay invoices every session exactly once.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import websockets
from ocpp.v16 import ChargePoint, call
from ocpp.v16.enums import RegistrationStatus

from billing.models import BillingFailure, Invoice, Tariff
from csms_project import testing
from csms_project.celery import app as celery_app
from drivers.models import IdTag
from events.models import OutboxMessage
from events.relay import outbox_relay
from stations.models import ChargePoint as ChargePointModel
from stations.models import Transaction

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHARGE_POINT_ID = "OUTBOX-CP"
SESSIONS = 3


async def charge_sessions(ws_url: str, count: int) -> list[int]:
    """Boot, then start and stop `count` sessions; every CALL must be answered."""
    async with websockets.connect(ws_url, subprotocols=["ocpp1.6"]) as ws:
        client = ChargePoint(CHARGE_POINT_ID, ws, response_timeout=15)
        listener = asyncio.create_task(client.start())
        try:
            boot = await client.call(
                call.BootNotification(charge_point_vendor="V", charge_point_model="M")
            )
            assert boot.status == RegistrationStatus.accepted
            ids = []
            for n in range(count):
                started = await client.call(
                    call.StartTransaction(
                        connector_id=1,
                        id_tag="OUTBOX-TAG",
                        meter_start=n * 10_000,
                        timestamp=f"2026-11-26T1{n}:00:00Z",
                    )
                )
                stopped = await client.call(
                    call.StopTransaction(
                        meter_stop=n * 10_000 + 5_000,
                        timestamp=f"2026-11-26T1{n}:30:00Z",
                        transaction_id=started.transaction_id,
                    )
                )
                assert stopped.id_tag_info is None
                ids.append(started.transaction_id)
        finally:
            listener.cancel()
    return ids


def test_invoices_of_sessions_ended_while_the_broker_was_down_arrive_once(tmp_path):
    Tariff.objects.create(
        name="Outbox", price_per_kwh=Decimal("0.40"), vat_rate=0, is_default=True, priority=10
    )
    IdTag.objects.create(id_tag="OUTBOX-TAG")
    registered = ChargePointModel.objects.create(
        charge_point_id=CHARGE_POINT_ID, registration_status="Accepted"
    )
    # Registered before the sessions it reports (an earlier start is disputed).
    ChargePointModel.objects.filter(pk=registered.pk).update(
        created_at=datetime(2026, 11, 1, tzinfo=UTC)
    )
    celery_app.conf.task_always_eager = False  # the root conftest restores eager mode

    with testing.private_redis(tmp_path) as broker:
        env = testing.process_env(CELERY_BROKER_URL=broker.url, EVENTS_RELAY_INTERVAL="1")
        with (
            testing.daphne_node(env, tmp_path) as base_url,
            testing.celery_worker(env, tmp_path, beat=True) as worker,
        ):
            broker.stop()
            ws_url = base_url.replace("http://", "ws://") + f"/ocpp/{CHARGE_POINT_ID}"
            ids = asyncio.run(charge_sessions(ws_url, SESSIONS))

            ended = Transaction.objects.filter(pk__in=ids, stop_timestamp__isnull=False)
            assert ended.count() == SESSIONS  # answered and committed without a broker
            waiting = OutboxMessage.objects.filter(subscriber="invoicing", handled_at__isnull=True)
            assert waiting.count() == SESSIONS
            time.sleep(2)  # the beat's relay runs cannot be queued meanwhile
            assert not Invoice.objects.exists()

            broker.start()
            testing.wait_until(
                lambda: Invoice.objects.filter(transaction__in=ids).count() == SESSIONS,
                timeout=120,
            )
            time.sleep(3)  # more relay runs: nothing is invoiced twice
            assert worker.poll() is None

    for pk in ids:
        assert Invoice.objects.filter(transaction_id=pk).count() == 1
    assert Invoice.objects.get(transaction_id=ids[0]).total == Decimal("2.00")  # 5 kWh x 0.40
    assert not OutboxMessage.objects.filter(subscriber="invoicing", handled_at__isnull=True)
    assert not BillingFailure.objects.filter(resolved_at__isnull=True).exists()
    assert outbox_relay().handled == 0  # nothing left to deliver
    assert Invoice.objects.count() == SESSIONS

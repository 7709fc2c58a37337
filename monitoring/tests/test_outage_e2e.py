"""Degrade, never disconnect: a broker outage and a dead worker, with real processes.

Real Daphne, a real Celery worker with beat, a private redis-server as the
broker. While the broker is down, sessions end and are answered, /readyz
says 503 naming the broker, and the invoices wait in the outbox; once it is
back, every invoice arrives exactly once. A killed worker raises the
dashboard's alarm and makes /readyz "degraded" (200: charging goes on);
a new worker clears both and issues what waited.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import websockets
from ocpp.v16 import ChargePoint, call
from ocpp.v16.enums import RegistrationStatus

from billing.models import Invoice, Tariff
from csms_project import testing
from csms_project.celery import app as celery_app
from drivers.models import IdTag
from monitoring.models import Node, NodeKind
from monitoring.selectors import dashboard_snapshot
from stations.models import ChargePoint as ChargePointModel

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHARGE_POINT_ID = "OUTAGE-CP"
TAG = "OUTAGE-TAG"


async def charge_sessions(ws_url: str, hours: range) -> list[int]:
    """Start and stop one session per hour of the day; every CALL must be answered."""
    async with websockets.connect(ws_url, subprotocols=["ocpp1.6"]) as ws:
        client = ChargePoint(CHARGE_POINT_ID, ws, response_timeout=15)
        listener = asyncio.create_task(client.start())
        try:
            boot = await client.call(
                call.BootNotification(charge_point_vendor="V", charge_point_model="M")
            )
            assert boot.status == RegistrationStatus.accepted
            ids = []
            for hour in hours:
                started = await client.call(
                    call.StartTransaction(
                        connector_id=1,
                        id_tag=TAG,
                        meter_start=hour * 10_000,
                        timestamp=f"2026-11-26T{hour:02d}:00:00Z",
                    )
                )
                await client.call(
                    call.StopTransaction(
                        meter_stop=hour * 10_000 + 5_000,
                        timestamp=f"2026-11-26T{hour:02d}:30:00Z",
                        transaction_id=started.transaction_id,
                    )
                )
                ids.append(started.transaction_id)
        finally:
            listener.cancel()
    return ids


def readyz(base_url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{base_url}/readyz", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def alarm_codes() -> list[str]:
    return [alarm["code"] for alarm in dashboard_snapshot()["alarms"]]


def invoiced_once(ids: list[int]) -> bool:
    return Invoice.objects.filter(transaction__in=ids).count() == len(ids)


def test_broker_outage_and_dead_worker_degrade_and_recover(tmp_path, settings):
    # This process judges liveness too: a silent node is dead after 3 s.
    settings.MONITORING_NODE_HEARTBEAT_SECONDS = 1
    settings.MONITORING_NODE_DEAD_AFTER_SECONDS = 3
    Tariff.objects.create(
        name="Outage", price_per_kwh=Decimal("0.40"), vat_rate=0, is_default=True, priority=10
    )
    IdTag.objects.create(id_tag=TAG)
    registered = ChargePointModel.objects.create(
        charge_point_id=CHARGE_POINT_ID, registration_status="Accepted"
    )
    ChargePointModel.objects.filter(pk=registered.pk).update(
        created_at=datetime(2026, 11, 1, tzinfo=UTC)
    )
    celery_app.conf.task_always_eager = False  # the root conftest restores eager mode
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()

    with testing.private_redis(tmp_path) as broker:
        env = testing.process_env(
            CELERY_BROKER_URL=broker.url,
            EVENTS_RELAY_INTERVAL="1",
            MONITORING_NODE_HEARTBEAT_SECONDS="1",
            MONITORING_NODE_DEAD_AFTER_SECONDS="3",
        )
        with testing.daphne_node(env, tmp_path) as base_url:
            ws_url = base_url.replace("http://", "ws://") + f"/ocpp/{CHARGE_POINT_ID}"
            with testing.celery_worker(env, tmp_path / "first", beat=True) as worker:
                testing.wait_until(lambda: readyz(base_url)[1]["status"] == "ok", timeout=60)
                assert alarm_codes() == []

                # 1. The broker goes away while sessions end.
                broker.stop()
                status, body = readyz(base_url)
                assert status == 503 and body["failing"] == ["broker"]
                assert body["charging"] is True
                ids = asyncio.run(charge_sessions(ws_url, range(0, 3)))  # all answered
                assert not Invoice.objects.filter(transaction__in=ids).exists()

                # 2. It comes back: every invoice arrives, once.
                broker.start()
                testing.wait_until(lambda: invoiced_once(ids), timeout=120)
                time.sleep(3)  # more relay runs: nothing is invoiced twice
                assert Invoice.objects.filter(transaction__in=ids).count() == len(ids)
                assert readyz(base_url)[0] == 200

                # 3. The worker dies without a word.
                worker.kill()
                worker.wait(timeout=10)

            testing.wait_until(lambda: alarm_codes() == ["no_worker"], timeout=30)
            status, body = readyz(base_url)
            assert status == 200, body  # still in rotation: charging goes on
            assert body["status"] == "degraded" and body["degraded"] == ["workers"]
            late = asyncio.run(charge_sessions(ws_url, range(3, 5)))  # answered all the same
            time.sleep(2)
            assert not Invoice.objects.filter(transaction__in=late).exists()

            # 4. A new worker: the alarm clears and what waited is invoiced.
            with testing.celery_worker(env, tmp_path / "second", beat=True):
                testing.wait_until(
                    lambda: (
                        Node.objects.filter(kind=NodeKind.CELERY, stopped_at=None)
                        .exclude(pid=worker.pid)
                        .exists()
                    ),
                    timeout=60,
                )
                testing.wait_until(lambda: alarm_codes() == [], timeout=30)
                testing.wait_until(lambda: readyz(base_url)[1]["status"] == "ok", timeout=30)
                testing.wait_until(lambda: invoiced_once(late), timeout=120)

    every = ids + late
    assert sorted(Invoice.objects.values_list("transaction_id", flat=True)) == sorted(every)
    assert Invoice.objects.get(transaction_id=ids[0]).total == Decimal("2.00")  # 5 kWh x 0.40

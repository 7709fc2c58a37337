"""A real Celery worker process invoices a committed transaction through the real broker.

With REDIS_URL set the broker is Redis (as in CI); otherwise kombu's
filesystem transport in var/celery, which the worker shares with this process.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.models import Invoice, Tariff
from billing.tasks import invoice_create_for_transaction
from csms_project import testing
from csms_project.celery import app as celery_app
from stations.choices import SessionStatus
from stations.models import ChargePoint, Connector, Station, Transaction

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def test_worker_creates_the_invoice(tmp_path):
    station = Station.objects.create(name="Worker depot")
    charge_point = ChargePoint.objects.create(charge_point_id="CP-WORKER", station=station)
    Tariff.objects.create(
        name="Worker", station=station, price_per_kwh=Decimal("0.50"), vat_rate=Decimal("10")
    )
    # Committed directly (this test runs outside a transaction), without the
    # stop service, whose on-commit hook would bill it in this process.
    session = Transaction.objects.create(
        charge_point=charge_point,
        connector=Connector.objects.create(charge_point=charge_point, connector_id=1),
        id_tag="TAG",
        status=SessionStatus.ENDED,
        meter_start=0,
        start_timestamp=T0,
        meter_stop=7_000,
        stop_timestamp=T0 + timedelta(hours=1),
        energy_wh=7_000,
        energy_source="meter_stop",
    )
    env = testing.process_env()
    log = tmp_path / "celery.log"
    celery_app.conf.task_always_eager = False  # the root conftest restores eager mode

    with testing.celery_worker(env, tmp_path) as worker:
        invoice_create_for_transaction.apply_async(
            (session.pk,), queue=env["CELERY_TASK_DEFAULT_QUEUE"]
        )
        invoice = testing.wait_until(
            lambda: Invoice.objects.filter(transaction=session).first(), timeout=60
        )
        # The same message again: the task is idempotent.
        invoice_create_for_transaction.apply_async(
            (session.pk,), queue=env["CELERY_TASK_DEFAULT_QUEUE"]
        )
        testing.wait_until(lambda: log.read_text().count("] succeeded in") >= 2, timeout=60)
        assert worker.poll() is None  # still running: it did not crash

    # 7 kWh x 0.50 = 3.50; VAT 10 % = 0.35
    assert (invoice.net_total, invoice.vat_total, invoice.total) == (
        Decimal("3.50"),
        Decimal("0.35"),
        Decimal("3.85"),
    )
    assert Invoice.objects.filter(transaction=session).count() == 1
    assert "billing.tasks.invoice_create_for_transaction" in log.read_text()

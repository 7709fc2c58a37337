"""The billing tasks: retries with back-off, failures the operator sees, the roll-up."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing import services, tasks
from billing.models import BillingFailure, Invoice, StationEnergyHour, Tariff
from billing.pricing import PricingError
from csms_project.celery import app as celery_app
from stations.choices import SessionStatus
from stations.models import ChargePoint, Connector, Station, Transaction

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def eager_retries():
    """Let eager mode run the retries in-process, as a worker would later."""
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_eager_propagates = True


@pytest.fixture
def finished():
    station = Station.objects.create(name="Main street")
    charge_point = ChargePoint.objects.create(charge_point_id="CP-1", station=station)
    Tariff.objects.create(name="CP", charge_point=charge_point, price_per_kwh=Decimal("0.30"))
    return Transaction.objects.create(
        charge_point=charge_point,
        connector=Connector.objects.create(charge_point=charge_point, connector_id=1),
        id_tag="TAG",
        status=SessionStatus.ENDED,
        meter_start=0,
        start_timestamp=T0,
        meter_stop=10_000,
        stop_timestamp=T0 + timedelta(hours=1),
        energy_wh=10_000,
    )


def test_retry_policy_backs_off():
    task = tasks.invoice_create_for_transaction
    assert task.autoretry_for == (Exception,)
    assert task.retry_backoff is True
    assert task.retry_backoff_max == 600
    assert task.max_retries == tasks.MAX_RETRIES


def test_transient_error_is_retried_and_recorded_then_resolved(
    finished, monkeypatch, eager_retries
):
    real = services.invoice_create
    calls = []

    def flaky(*, transaction_id):
        calls.append(transaction_id)
        if len(calls) < 3:
            raise ConnectionError("database went away")
        return real(transaction_id=transaction_id)

    monkeypatch.setattr(services, "invoice_create", flaky)
    result = tasks.invoice_create_for_transaction.delay(finished.pk).get()

    assert len(calls) == 3  # two failures, retried in-process (eager)
    invoice = Invoice.objects.get(transaction=finished)
    assert result == invoice.pk
    failure = BillingFailure.objects.get(transaction=finished)
    assert failure.attempts == 2
    assert failure.error == "ConnectionError: database went away"
    assert failure.resolved_at is not None


def test_giving_up_leaves_a_failure_for_the_operator(finished, monkeypatch, eager_retries):
    def broken(*, transaction_id):
        raise RuntimeError("bug")

    monkeypatch.setattr(services, "invoice_create", broken)
    with pytest.raises(RuntimeError, match="bug"):
        tasks.invoice_create_for_transaction.delay(finished.pk).get()
    failure = BillingFailure.objects.get(transaction=finished)
    assert failure.attempts == tasks.MAX_RETRIES + 1
    assert failure.will_retry is False
    assert failure.resolved_at is None
    assert not Invoice.objects.exists()


def test_configuration_error_is_not_retried(finished, eager_retries):
    Station.objects.update(time_zone="Bad/Zone")
    with pytest.raises(PricingError):
        tasks.invoice_create_for_transaction.delay(finished.pk).get()
    failure = BillingFailure.objects.get(transaction=finished)
    assert failure.attempts == 1
    assert failure.will_retry is False
    assert "Bad/Zone" in failure.error


def test_failure_of_an_unknown_transaction_is_not_recorded():
    assert services.billing_failure_record(transaction_id=999, error="x", will_retry=True) is None
    assert not BillingFailure.objects.exists()


def test_energy_rollup_task_recomputes_the_last_day(finished, settings):
    settings.BILLING_ENERGY_ROLLUP_HOURS = 24 * 365 * 5
    assert tasks.station_energy_rollup.delay().get() == 1
    row = StationEnergyHour.objects.get()
    assert (row.hour, row.energy_wh, row.session_count) == (T0, 10_000, 1)

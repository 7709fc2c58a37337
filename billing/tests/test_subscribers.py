"""Invoicing reacts to ended sessions through the outbox: once, retried, failures shown."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import services, subscribers
from billing.models import BillingFailure, Invoice, Tariff
from drivers.models import IdTag
from events.models import OutboxMessage
from events.relay import outbox_relay
from monitoring.metrics import INVOICES_ISSUED
from stations.models import ChargePoint, Transaction
from stations.services import transaction_start, transaction_stop

from .helpers import registered_long_ago

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def broker_down(monkeypatch):
    """No nudge gets through: only the periodic relay (called below) invoices."""
    calls = []
    monkeypatch.setattr(subscribers, "relay_outbox_nudge", lambda: calls.append("nudge"))
    return calls


@pytest.fixture
def ended(django_capture_on_commit_callbacks):
    charge_point = registered_long_ago(
        ChargePoint.objects.create(charge_point_id="CP-SUB", registration_status="Accepted")
    )
    IdTag.objects.create(id_tag="TAG")
    Tariff.objects.create(name="CP", charge_point=charge_point, price_per_kwh=Decimal("0.25"))
    with django_capture_on_commit_callbacks(execute=True):
        started, _ = transaction_start(
            charge_point_pk=charge_point.pk,
            connector_id=1,
            id_tag="TAG",
            meter_start=0,
            timestamp=T0,
        )
        transaction_stop(
            charge_point_pk=charge_point.pk,
            transaction_id=started.pk,
            meter_stop=8_000,
            timestamp=T0 + timedelta(hours=1),
        )
    return Transaction.objects.get(pk=started.pk)


def due_now():
    OutboxMessage.objects.update(next_attempt_at=timezone.now())


def test_an_ended_session_waits_in_the_outbox_until_the_relay_invoices_it(
    ended, django_capture_on_commit_callbacks
):
    issued_before = INVOICES_ISSUED.labels("EUR")._value.get()
    assert not Invoice.objects.exists()
    (waiting,) = OutboxMessage.objects.filter(subscriber="invoicing")
    assert waiting.payload == {
        "charge_point": ended.charge_point_id,
        "transaction": ended.pk,
        "energy_wh": 8000,
        "status": "ended",
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox_relay().handled == 1
    invoice = Invoice.objects.get(transaction=ended)
    assert invoice.total == Decimal("2.00")
    assert OutboxMessage.objects.get(pk=waiting.pk).handled_at is not None
    # invoice.issued went to the metrics subscriber once the invoice committed.
    assert INVOICES_ISSUED.labels("EUR")._value.get() == issued_before + 1
    assert outbox_relay().handled == 0
    assert Invoice.objects.count() == 1


def test_a_transient_failure_is_shown_and_retried_until_the_invoice_exists(ended, monkeypatch):
    real = services.invoice_create

    def down(*, transaction_id):
        raise ConnectionError("database went away")

    monkeypatch.setattr(services, "invoice_create", down)
    assert outbox_relay().failed == 1
    failure = BillingFailure.objects.get(transaction=ended)
    assert (failure.will_retry, failure.error) == (True, "ConnectionError: database went away")
    assert not Invoice.objects.exists()

    monkeypatch.setattr(services, "invoice_create", real)
    due_now()
    outbox_relay()
    assert Invoice.objects.filter(transaction=ended).count() == 1
    failure.refresh_from_db()
    assert failure.resolved_at is not None


def test_a_pricing_error_is_left_to_the_operator_not_retried(ended, monkeypatch):
    from billing.pricing import PricingError

    def misconfigured(*, transaction_id):
        raise PricingError("time zone Bad/Zone does not exist")

    monkeypatch.setattr(services, "invoice_create", misconfigured)
    report = outbox_relay()
    assert report.failed == 0
    failure = BillingFailure.objects.get(transaction=ended)
    assert failure.will_retry is False
    assert "Bad/Zone" in failure.error
    message = OutboxMessage.objects.get(subscriber="invoicing")
    assert message.handled_at is not None  # the operator retries from the admin


def test_the_nudge_asks_for_a_relay_run_after_the_commit(broker_down, ended):
    assert broker_down == ["nudge"]

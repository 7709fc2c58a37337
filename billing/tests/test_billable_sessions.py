"""Only billable sessions are invoiced: disputed ones wait for an operator's decision."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing import subscribers
from billing.models import BillingFailure, Invoice, Tariff
from billing.services import invoice_create, transaction_start_priced
from drivers.models import IdTag
from events.kinds import EventKind
from events.models import OutboxMessage
from events.relay import outbox_relay
from stations.choices import DisputeResolution, SessionStatus
from stations.models import Connector, Transaction
from stations.services import chargepoint_create, transaction_stop
from stations.services.disputes import transaction_dispute_resolve

from .helpers import registered_long_ago

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture(autouse=True)
def relay_by_hand(monkeypatch):
    """No nudge: each test runs the relay itself, as the periodic task would."""
    monkeypatch.setattr(subscribers, "relay_outbox_nudge", lambda: None)


@pytest.fixture
def charge_point():
    IdTag.objects.create(id_tag="TAG-1")
    charge_point = registered_long_ago(chargepoint_create(charge_point_id="CP-BILLABLE"))
    Tariff.objects.create(name="CP", charge_point=charge_point, price_per_kwh=Decimal("0.50"))
    # 11 kW: a session of one hour that reports much more energy is disputed.
    Connector.objects.create(charge_point=charge_point, connector_id=1, max_power_w=11_000)
    return charge_point


def start(charge_point, *, at=T0, id_tag="TAG-1", meter_start=0):
    started, _ = transaction_start_priced(
        charge_point_pk=charge_point.pk,
        connector_id=1,
        id_tag=id_tag,
        meter_start=meter_start,
        timestamp=at,
    )
    return started


def stop(charge_point, session, *, meter_stop, at=T0 + HOUR):
    transaction_stop(
        charge_point_pk=charge_point.pk,
        transaction_id=session.pk,
        meter_stop=meter_stop,
        timestamp=at,
    )
    return Transaction.objects.get(pk=session.pk)


def disputed_session(charge_point):
    """100 kWh in an hour on an 11 kW connector: ended, disputed."""
    session = stop(charge_point, start(charge_point), meter_stop=100_000)
    assert session.status == SessionStatus.ENDED and session.is_disputed
    return session


def resolve(session, resolution, **kwargs):
    return transaction_dispute_resolve(
        transaction_pk=session.pk, resolution=resolution, resolved_by_id=None, **kwargs
    )


def invoicing_messages(session):
    return OutboxMessage.objects.filter(subscriber="invoicing", payload__transaction=session.pk)


def test_a_plausible_session_is_invoiced_when_it_ends(charge_point):
    session = stop(charge_point, start(charge_point), meter_stop=8_000)
    assert not session.is_disputed
    assert outbox_relay().handled >= 1
    assert Invoice.objects.get(transaction=session).net_total == Decimal("4.00")


def test_a_disputed_session_is_not_invoiced_and_no_failure_is_recorded(charge_point):
    session = disputed_session(charge_point)
    outbox_relay()
    (ended,) = invoicing_messages(session)
    assert ended.handled_at is not None  # handled: nothing to bill yet
    assert invoice_create(transaction_id=session.pk) is None
    assert not Invoice.objects.exists()
    assert not BillingFailure.objects.exists()  # the dispute is the operator's signal


def test_accepting_a_dispute_issues_exactly_one_invoice_through_the_outbox(charge_point):
    session = disputed_session(charge_point)
    outbox_relay()
    resolve(session, DisputeResolution.ACCEPTED, note="Fleet truck, checked")
    resolved = invoicing_messages(session).get(kind=EventKind.SESSION_DISPUTE_RESOLVED)
    assert resolved.handled_at is None

    outbox_relay()
    invoice = Invoice.objects.get(transaction=session)
    assert (invoice.energy_wh, invoice.net_total) == (100_000, Decimal("50.00"))
    resolved.refresh_from_db()
    assert resolved.handled_at is not None
    outbox_relay()
    assert invoice_create(transaction_id=session.pk) == invoice
    assert Invoice.objects.count() == 1


def test_a_corrected_dispute_is_billed_with_the_corrected_energy(charge_point):
    session = disputed_session(charge_point)
    resolve(session, DisputeResolution.CORRECTED, energy_wh=9_000, note="Meter fault")
    outbox_relay()
    invoice = Invoice.objects.get(transaction=session)
    assert (invoice.energy_wh, invoice.net_total) == (9_000, Decimal("4.50"))
    assert Transaction.objects.get(pk=session.pk).energy_wh_reported == 100_000


def test_a_voided_session_is_never_billed(charge_point):
    session = disputed_session(charge_point)
    resolve(session, DisputeResolution.VOIDED, note="Test session")
    outbox_relay()
    assert all(message.handled_at for message in invoicing_messages(session))
    assert invoice_create(transaction_id=session.pk) is None
    assert not Invoice.objects.exists()
    assert not BillingFailure.objects.exists()


def test_a_superseded_session_waits_for_a_decision_like_any_disputed_one(charge_point):
    first = start(charge_point, meter_start=1_000)
    second = start(charge_point, meter_start=4_000, at=T0 + timedelta(minutes=40))
    stop(charge_point, second, meter_stop=6_000, at=T0 + HOUR)
    first = Transaction.objects.get(pk=first.pk)
    assert first.status == SessionStatus.SUPERSEDED and first.is_disputed
    outbox_relay()
    assert list(Invoice.objects.values_list("transaction_id", flat=True)) == [second.pk]

    resolve(first, DisputeResolution.ACCEPTED)
    outbox_relay()
    assert Invoice.objects.get(transaction=first).energy_wh == 3_000
    assert Invoice.objects.count() == 2


def test_a_refused_session_is_never_billed(charge_point):
    refused = start(charge_point, id_tag="UNKNOWN")
    refused = stop(charge_point, refused, meter_stop=5_000)
    assert refused.status == SessionStatus.REFUSED
    outbox_relay()
    assert invoice_create(transaction_id=refused.pk) is None
    assert not Invoice.objects.exists()
    assert not BillingFailure.objects.exists()


def test_a_running_session_is_not_billed(charge_point):
    running = start(charge_point)
    assert invoice_create(transaction_id=running.pk) is None
    assert not BillingFailure.objects.exists()

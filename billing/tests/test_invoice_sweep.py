"""The invoice sweep: every ended billable session gets its invoice, exactly once.

The sweep is the safety net behind the outbox (an event lost with a purged
row, a session from before the outbox): sessions here are created directly,
so no event will ever invoice them.
"""

from __future__ import annotations

import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from billing import tasks
from billing.models import BillingFailure, Invoice, Tariff
from billing.services import invoice_create, invoice_create_missing
from events.models import OutboxMessage
from stations.choices import DisputeResolution, SessionStatus
from stations.models import ChargePoint, Connector, Transaction

pytestmark = pytest.mark.django_db

GRACE = timedelta(minutes=15)
LOOKBACK = timedelta(days=30)


@pytest.fixture
def connector():
    charge_point = ChargePoint.objects.create(charge_point_id="CP-SWEEP")
    Tariff.objects.create(name="CP", charge_point=charge_point, price_per_kwh=Decimal("0.30"))
    return Connector.objects.create(charge_point=charge_point, connector_id=1)


_tags = itertools.count(1)


def session(connector, *, ended_ago=timedelta(hours=1), **fields) -> Transaction:
    """An ended session, last changed `ended_ago` (no event: nothing else invoices it)."""
    stop = timezone.now() - ended_ago
    values = dict(
        status=SessionStatus.ENDED,
        meter_start=0,
        meter_stop=2000,
        energy_wh=2000,
        start_timestamp=stop - timedelta(minutes=30),
        stop_timestamp=stop,
    )
    values.update(fields)
    created = Transaction.objects.create(
        charge_point=connector.charge_point, connector=connector, id_tag=f"T{next(_tags)}", **values
    )
    Transaction.objects.filter(pk=created.pk).update(updated_at=stop)
    return created


def sweep():
    return invoice_create_missing(grace=GRACE, lookback=LOOKBACK)


def test_ended_sessions_without_invoice_are_invoiced_once(connector):
    first, second = session(connector), session(connector, status=SessionStatus.SUPERSEDED)
    first_sweep = sweep()
    assert sorted(first_sweep.issued) == sorted([first.pk, second.pk])
    assert first_sweep.failed == []
    assert Invoice.objects.get(transaction=first).total == Decimal("0.60")
    assert sweep().issued == []  # idempotent
    assert Invoice.objects.count() == 2


def test_what_is_not_billable_or_not_the_sweeps_is_left_alone(connector):
    now = timezone.now()
    running = session(connector, status=SessionStatus.RUNNING, stop_timestamp=None)
    refused = session(connector, status=SessionStatus.REFUSED)
    disputed = session(connector, disputed_at=now)
    voided = session(connector, disputed_at=now, dispute_resolution=DisputeResolution.VOIDED)
    empty = session(connector, energy_wh=0, meter_stop=0)
    too_recent = session(connector, ended_ago=timedelta(minutes=5))
    too_old = session(connector, ended_ago=timedelta(days=31))
    waiting_for_relay = session(connector)
    OutboxMessage.objects.create(
        kind="session.ended", subscriber="invoicing", payload={"transaction": waiting_for_relay.pk}
    )
    operator_must_act = session(connector)
    BillingFailure.objects.create(
        transaction=operator_must_act,
        error="No tariff applies to this session.",
        will_retry=False,
        first_failed_at=now,
        last_failed_at=now,
    )
    accepted = session(connector, disputed_at=now, dispute_resolution=DisputeResolution.ACCEPTED)
    assert sweep().issued == [accepted.pk]
    left_alone = [
        running,
        refused,
        disputed,
        voided,
        empty,
        too_recent,
        too_old,
        waiting_for_relay,
        operator_must_act,
    ]
    assert not Invoice.objects.filter(transaction__in=left_alone).exists()


def test_a_session_invoiced_meanwhile_is_not_counted_twice(connector):
    ended = session(connector)
    invoice = invoice_create(transaction_id=ended.pk)
    assert sweep().issued == []
    assert list(Invoice.objects.all()) == [invoice]


def test_a_failure_is_recorded_and_retried_by_the_next_sweep(connector, monkeypatch):
    ended = session(connector)
    from billing import services

    real = services.invoice_create
    monkeypatch.setattr(services, "invoice_create", lambda **kw: 1 / 0)
    assert sweep().failed == [ended.pk]
    failure = BillingFailure.objects.get(transaction=ended)
    assert failure.will_retry and "ZeroDivisionError" in failure.error
    monkeypatch.setattr(services, "invoice_create", real)
    assert sweep().issued == [ended.pk]
    failure.refresh_from_db()
    assert failure.resolved_at is not None


def test_the_task_runs_the_sweep_and_beat_schedules_it(connector):
    session(connector)
    assert tasks.invoice_sweep.delay().get() == 1
    assert tasks.invoice_sweep.delay().get() == 0
    entry = settings.CELERY_BEAT_SCHEDULE["invoice-sweep"]
    assert entry["task"] == "billing.tasks.invoice_sweep"


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgis")),
    reason="needs PostgreSQL (DATABASE_URL): SQLite serialises every writer",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_issue_each_invoice_once(connector):
    sessions = [session(connector) for _ in range(12)]
    runs = 4
    barrier = threading.Barrier(runs)

    def run(_index):
        try:
            barrier.wait(timeout=10)
            return sweep().issued
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=runs) as pool:
        issued = [pk for batch in pool.map(run, range(runs)) for pk in batch]
    assert sorted(issued) == sorted(s.pk for s in sessions)  # each issued by one sweep
    assert Invoice.objects.count() == len(sessions)
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert len(set(numbers)) == len(sessions)

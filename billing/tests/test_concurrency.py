"""Invoice numbers and invoices under real concurrency (PostgreSQL, one connection per thread).

SQLite serialises every writer, so it cannot show a race: these run only
when DATABASE_URL points at PostgreSQL, as in CI.
"""

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from billing.models import Invoice, InvoiceSequence, Tariff
from billing.services import invoice_create, invoice_number_next
from stations.choices import SessionStatus
from stations.models import ChargePoint, Connector, Transaction

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgis")),
        reason="needs PostgreSQL (DATABASE_URL)",
    ),
]

THREADS = 8
T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def run_together(count: int, work):
    """Run work(i) in `count` threads released at once; each uses its own connection."""
    barrier = threading.Barrier(count)

    def worker(index):
        try:
            barrier.wait(timeout=10)
            return work(index)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(worker, range(count)))


def test_numbers_are_unique_and_gap_free_under_concurrency():
    def take(_index):
        numbers = []
        for _ in range(5):
            with transaction.atomic():
                numbers.append(invoice_number_next(year=2030))
                time.sleep(0.005)  # hold the transaction open: widen the race
        return numbers

    numbers = [number for batch in run_together(THREADS, take) for number in batch]
    assert sorted(numbers) == [f"2030-{n:06d}" for n in range(1, THREADS * 5 + 1)]
    assert InvoiceSequence.objects.get(year=2030).last_number == THREADS * 5


@pytest.fixture
def sessions():
    charge_point = ChargePoint.objects.create(charge_point_id="CP-RACE")
    Tariff.objects.create(name="CP", charge_point=charge_point, price_per_kwh=Decimal("0.30"))
    connector = Connector.objects.create(charge_point=charge_point, connector_id=1)
    return [
        Transaction.objects.create(
            charge_point=charge_point,
            connector=connector,
            id_tag=f"TAG-{index}",
            status=SessionStatus.ENDED,
            meter_start=0,
            start_timestamp=T0 + timedelta(hours=index),
            meter_stop=1000,
            stop_timestamp=T0 + timedelta(hours=index, minutes=30),
            energy_wh=1000,
        )
        for index in range(THREADS)
    ]


def test_the_same_transaction_billed_concurrently_yields_one_invoice(sessions):
    target = sessions[0].pk
    invoice_ids = run_together(THREADS, lambda _index: invoice_create(transaction_id=target).pk)
    assert len(set(invoice_ids)) == 1
    assert Invoice.objects.count() == 1
    assert InvoiceSequence.objects.get(year=timezone.localdate().year).last_number == 1


def test_different_transactions_billed_concurrently_get_consecutive_numbers(sessions):
    run_together(THREADS, lambda index: invoice_create(transaction_id=sessions[index].pk))
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    this_year = timezone.localdate().year  # the year of issue
    assert numbers == [f"{this_year}-{n:06d}" for n in range(1, THREADS + 1)]
    assert set(Invoice.objects.values_list("transaction_id", flat=True)) == {
        session.pk for session in sessions
    }

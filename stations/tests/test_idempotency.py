"""Duplicates racing in on separate connections (meaningful on PostgreSQL)."""

import threading
from datetime import UTC, datetime

import pytest
from django.db import connection

from stations.models import MeterValue, Transaction
from stations.services import chargepoint_create, metervalues_record, transaction_start
from stations.tests.samples import meter_sample

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 6


def race(func):
    """Run func in WORKERS threads released at once; return their results."""
    barrier = threading.Barrier(WORKERS)
    results, failures = [], []

    def worker():
        try:
            barrier.wait()
            results.append(func())
        except Exception as exc:  # reported below: a race must not fail
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    return results


def test_concurrent_identical_starts_make_one_transaction():
    charge_point = chargepoint_create(charge_point_id="RACE-1")
    started_at = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)

    def start():
        return transaction_start(
            charge_point_pk=charge_point.pk,
            connector_id=1,
            id_tag="TAG-R",
            meter_start=100,
            timestamp=started_at,
        )[0].pk

    ids = race(start)
    assert len(set(ids)) == 1
    assert Transaction.objects.count() == 1


def test_concurrent_identical_meter_values_store_each_sample_once():
    charge_point = chargepoint_create(charge_point_id="RACE-2")
    at = datetime(2026, 11, 26, 10, 5, tzinfo=UTC)
    samples = [
        meter_sample("150", at),
        meter_sample("7.4", at, measurand="Power.Active.Import", unit="kW"),
    ]

    race(
        lambda: metervalues_record(
            charge_point_pk=charge_point.pk,
            connector_id=1,
            transaction_id=None,
            samples=samples,
        )
    )
    assert MeterValue.objects.count() == 2

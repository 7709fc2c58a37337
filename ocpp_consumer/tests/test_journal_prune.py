"""Pruning the message journal past its retention period, with frozen time."""

from datetime import UTC, datetime, timedelta

import pytest

from ocpp_consumer import tasks
from ocpp_consumer.models import Direction, JournalEntry
from ocpp_consumer.services import journal_prune
from stations.models import ChargePoint

pytestmark = pytest.mark.django_db

NOW = datetime(2024, 5, 31, 12, 0, tzinfo=UTC)


def entry(charge_point, *, age: timedelta, action="Heartbeat"):
    return JournalEntry.objects.create(
        charge_point=charge_point,
        direction=Direction.IN,
        message_type=2,
        unique_id=f"{action}-{age.total_seconds()}",
        action=action,
        payload={},
        timestamp=NOW - age,
    )


@pytest.fixture
def charge_point():
    return ChargePoint.objects.create(charge_point_id="CP-1")


def test_entries_older_than_the_retention_are_deleted(charge_point, settings):
    settings.OCPP_JOURNAL_RETENTION_DAYS = 30
    old = entry(charge_point, age=timedelta(days=30, seconds=1))
    boundary = entry(charge_point, age=timedelta(days=30))
    recent = entry(charge_point, age=timedelta(days=1))

    assert journal_prune(now=NOW) == 1
    remaining = set(JournalEntry.objects.values_list("pk", flat=True))
    assert remaining == {boundary.pk, recent.pk}
    assert old.pk not in remaining
    assert journal_prune(now=NOW) == 0  # idempotent


def test_retention_is_configurable(charge_point, settings):
    entry(charge_point, age=timedelta(days=3))
    settings.OCPP_JOURNAL_RETENTION_DAYS = 7
    assert journal_prune(now=NOW) == 0
    settings.OCPP_JOURNAL_RETENTION_DAYS = 2
    assert journal_prune(now=NOW) == 1


def test_a_backlog_is_deleted_in_batches(charge_point):
    for day in range(40, 45):
        entry(charge_point, age=timedelta(days=day))
    entry(charge_point, age=timedelta(days=1))
    assert journal_prune(now=NOW, retention_days=30, batch=2) == 5
    assert JournalEntry.objects.count() == 1


def test_prune_task_uses_the_settings(charge_point, settings):
    settings.OCPP_JOURNAL_RETENTION_DAYS = 30
    entry(charge_point, age=timedelta(days=10_000))  # older than any real now minus 30 days
    entry(charge_point, age=-timedelta(days=10_000))  # in the future: kept
    assert tasks.prune_journal.delay().get() == 1
    assert JournalEntry.objects.count() == 1

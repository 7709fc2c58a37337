"""The bounded date navigation: the first and last row, never every distinct day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
from django.db import connection

from monitoring.templatetags import console_lists
from stations.models import Station

pytestmark = pytest.mark.django_db


@pytest.fixture
def stations():
    for n, when in enumerate(
        [datetime(2026, 10, 20, 12, tzinfo=UTC), datetime(2026, 11, 3, 12, tzinfo=UTC),
         datetime(2026, 11, 17, 12, tzinfo=UTC), datetime(2026, 12, 2, 12, tzinfo=UTC)]
    ):  # fmt: skip
        station = Station.objects.create(name=f"Site {n}")
        Station.objects.filter(pk=station.pk).update(created_at=when)
    return Station.objects.all()


def span(queryset, year=None, month=None):
    cl = SimpleNamespace(queryset=queryset, root_queryset=Station.objects.all())
    return console_lists._span(cl, "created_at", True, year, month)


def test_the_span_is_the_first_and_last_row_of_the_list(stations, django_assert_num_queries):
    # PostgreSQL: the aggregate within a savepoint that sets and restores a statement timeout.
    with django_assert_num_queries(6 if connection.vendor == "postgresql" else 1):
        assert span(stations) == (date(2026, 10, 20), date(2026, 12, 2))
    november = stations.filter(created_at__month=11)
    assert span(november, "2026", "11") == (date(2026, 11, 3), date(2026, 11, 17))
    assert span(stations.none()) == (None, None)


def test_days_and_months_between_two_dates():
    assert console_lists._days(date(2026, 10, 30), date(2026, 11, 2)) == [
        date(2026, 10, 30), date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 2),
    ]  # fmt: skip
    assert console_lists._months(date(2025, 11, 30), date(2026, 2, 1)) == [
        date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1),
    ]  # fmt: skip


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a statement timeout")
def test_a_slow_span_falls_back_to_the_table_bounds_within_the_chosen_period(stations, monkeypatch):
    monkeypatch.setattr(console_lists, "SPAN_TIMEOUT_MS", 20)
    slow = stations.extra(where=["pg_sleep(0.01) IS NOT NULL"])
    assert span(slow, "2026", "11") == (date(2026, 11, 1), date(2026, 11, 30))
    assert span(slow, "2026") == (date(2026, 10, 20), date(2026, 12, 2))
    assert span(slow) == (date(2026, 10, 20), date(2026, 12, 2))
    assert span(slow, "2025") == (None, None)

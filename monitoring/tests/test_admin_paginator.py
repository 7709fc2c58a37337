"""The estimated-count paginator: exact when small, the planner's estimate when large."""

from __future__ import annotations

import enum

import pytest
from django.db import connection
from django.test import RequestFactory

from monitoring.admin_paginator import EstimatedCountPaginator
from stations.models import Station

pytestmark = pytest.mark.django_db

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="estimates are PostgreSQL's"
)


class SmallLimits(EstimatedCountPaginator):
    exact_limit = 10
    max_pages = 3


@pytest.fixture
def stations():
    Station.objects.bulk_create(
        Station(name=f"Site {n:02d}", city="Berlin" if n % 2 else "Paris") for n in range(40)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Station._meta.db_table}")
    return Station.objects.order_by("name")


def statement_timeout() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


def test_a_set_within_the_limit_is_counted_exactly(stations):
    paginator = SmallLimits(stations.filter(name__lte="Site 07"), 5)
    assert paginator.count == 8
    assert not paginator.estimated
    assert paginator.num_pages == 2
    assert not paginator.capped


def test_other_databases_count_exactly(stations):
    if connection.vendor == "postgresql":
        pytest.skip("the fallback of the other databases")
    paginator = SmallLimits(stations, 5)
    assert paginator.count == 40 and not paginator.estimated
    assert paginator.num_pages == 8  # not capped: an exact count has a real last page


@postgresql_only
def test_a_large_unfiltered_list_uses_the_table_statistics(stations):
    paginator = SmallLimits(stations, 5)
    assert paginator.count == 40  # reltuples after ANALYZE
    assert paginator.estimated
    # 8 pages of rows, but only the newest 3 are offered: an offset reads all it skips.
    assert paginator.num_pages == 3
    assert paginator.capped
    assert [s.name for s in paginator.page(3).object_list][0] == "Site 10"


@postgresql_only
def test_a_large_filtered_list_uses_the_plan_estimate(stations):
    paginator = SmallLimits(stations.filter(city="Paris"), 5)
    # The planner's guess, never below what the bounded count saw.
    assert paginator.count >= 11
    assert paginator.estimated


@postgresql_only
def test_a_slow_bounded_count_falls_back_to_the_estimate_and_restores_the_timeout(stations):
    before = statement_timeout()

    class Impatient(SmallLimits):
        exact_limit = 1_000
        count_timeout_ms = 20

    slow = stations.extra(where=["pg_sleep(0.01) IS NOT NULL"])  # 10 ms per row
    paginator = Impatient(slow, 5)
    assert paginator.count >= 1_001
    assert paginator.estimated
    assert statement_timeout() == before
    # A fast one leaves the setting as it was, too.
    assert Impatient(stations, 5).count == 40
    assert statement_timeout() == before


@postgresql_only
def test_annotations_are_left_out_of_the_bounded_count(stations, django_assert_num_queries):
    from django.db.models import OuterRef, Subquery

    from stations.models import ChargePoint

    # A subquery per row, as the session list's latest meter reading.
    first = ChargePoint.objects.filter(station=OuterRef("pk")).values("pk")[:1]
    annotated = stations.annotate(first_charge_point=Subquery(first))
    with django_assert_num_queries(6) as captured:  # savepoint, settings, count, release
        assert SmallLimits(annotated.filter(name__lte="Site 03"), 5).count == 4
    count_sql = next(q["sql"] for q in captured.captured_queries if "COUNT" in q["sql"].upper())
    assert "stations_chargepoint" not in count_sql


# --- Filters that do not read the table ---------------------------------------------------


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


def filter_choices(filter_class, model_admin, params=None):
    request = RequestFactory().get("/", params or {})
    request.user = None
    spec = filter_class(request, dict(request.GET.lists()), model_admin.model, model_admin)
    return spec, list(spec.lookup_choices)


def test_choices_filter_offers_enumerations_values_and_pairs_without_a_query(
    stations, django_assert_num_queries
):
    from django.contrib import admin

    from monitoring.admin_paginator import choices_filter

    model_admin = admin.ModelAdmin(Station, admin.site)
    Filter = choices_filter("city", (Colour, "green", ("x", "Ex")), title="city")
    with django_assert_num_queries(0):
        spec, choices = filter_choices(Filter, model_admin)
    assert choices == [("x", "Ex"), ("blue", "blue"), ("green", "green"), ("red", "red")]
    spec, _ = filter_choices(Filter, model_admin, {"city": "Paris"})
    assert spec.queryset(None, Station.objects.all()).count() == 20
    # A callable is read each time the list is shown.
    Lazy = choices_filter("city", lambda: ["Paris", "Berlin", "Paris"], title="city")
    assert filter_choices(Lazy, model_admin)[1] == [("Berlin", "Berlin"), ("Paris", "Paris")]


def test_related_key_filter_lists_only_the_chosen_row(stations, django_assert_num_queries):
    from django.contrib import admin
    from django.contrib.admin.options import IncorrectLookupParameters

    from monitoring.admin_paginator import related_key_filter
    from stations.models import ChargePoint

    station = Station.objects.get(name="Site 03")
    ChargePoint.objects.bulk_create(
        ChargePoint(charge_point_id=f"CP-{n}", station=station if n < 3 else None) for n in range(6)
    )
    model_admin = admin.ModelAdmin(ChargePoint, admin.site)
    Filter = related_key_filter("station", title="station")
    with django_assert_num_queries(0):
        spec, choices = filter_choices(Filter, model_admin)
    assert choices == [] and not spec.has_output()  # nothing chosen: nothing listed
    spec, choices = filter_choices(Filter, model_admin, {"station__id__exact": str(station.pk)})
    assert choices == [(str(station.pk), "Site 03")]
    assert spec.queryset(None, ChargePoint.objects.all()).count() == 3
    with pytest.raises(IncorrectLookupParameters):
        filter_choices(Filter, model_admin, {"station__id__exact": "x"})


@postgresql_only
def test_within_time_gives_up_and_restores_the_timeout(stations):
    from monitoring.admin_paginator import within_time

    before = statement_timeout()
    slow = stations.extra(where=["pg_sleep(0.01) IS NOT NULL"])
    assert within_time(lambda: slow.count(), using="default", timeout_ms=20) is None
    assert within_time(lambda: stations.count(), using="default", timeout_ms=1000) == 40
    assert statement_timeout() == before


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_within_time_outside_a_transaction_leaves_the_session_setting_alone():
    from monitoring.admin_paginator import within_time

    before = statement_timeout()
    Station.objects.create(name="Alone")
    slow = Station.objects.extra(where=["pg_sleep(0.05) IS NOT NULL"])
    assert not connection.in_atomic_block
    assert within_time(lambda: slow.count(), using="default", timeout_ms=20) is None
    assert within_time(lambda: Station.objects.count(), using="default", timeout_ms=500) == 1
    assert statement_timeout() == before

"""Counting lists of very large tables without reading them (PostgreSQL).

`count(*)` reads every row it counts: a list of ten million sessions takes
about a second to count on every page. `list_count` counts exactly only what
is small (up to `exact_limit` rows, given up after `timeout_ms`) and takes
the planner's estimate otherwise: pg_class.reltuples for a whole table, the
EXPLAIN row estimate for a filtered list. Shared by the console's paginator
(monitoring/admin_paginator.py) and the API's (api_support/pagination.py).
Imports nothing but Django. Elsewhere (SQLite) it counts exactly.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from django.db import DatabaseError, connections, transaction
from django.db.models import QuerySet, Value

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ListCount:
    value: int
    estimated: bool


def counts_by_estimate(queryset) -> bool:
    """Whether list_count may estimate this list (an unsliced queryset on PostgreSQL)."""
    return (
        isinstance(queryset, QuerySet)
        and connections[queryset.db].vendor == "postgresql"
        and not queryset.query.is_sliced
    )


def list_count(queryset: QuerySet, *, exact_limit: int, timeout_ms: int) -> ListCount:
    """The exact count up to exact_limit rows, the planner's estimate above (or when slow)."""
    if not counts_by_estimate(queryset):
        return ListCount(queryset.count(), estimated=False)
    exact = bounded_count(queryset, exact_limit, timeout_ms)
    if exact is not None and exact <= exact_limit:
        return ListCount(exact, estimated=False)
    return ListCount(max(estimate_count(queryset), exact_limit + 1), estimated=True)


def bounded_count(queryset: QuerySet, limit: int, timeout_ms: int) -> int | None:
    """`count(*)` of at most limit + 1 rows, or None when it takes longer than timeout_ms."""
    # A constant, not the rows: annotations (a subquery per row) are left out, and an index
    # holding the filtered columns answers alone (index-only scan). A DISTINCT list (a
    # search across a many-to-many relation) counts its distinct keys.
    if queryset.query.distinct:
        bounded = queryset.order_by().values("pk")[: limit + 1]
    else:
        bounded = queryset.order_by().annotate(_bounded_count_one=Value(1))
        bounded = bounded.values("_bounded_count_one")[: limit + 1]
    count = within_time(bounded.count, using=queryset.db, timeout_ms=timeout_ms)
    if count is None:
        logger.info("bounded count of %s over %d ms: estimated", queryset.model, timeout_ms)
    return count


def within_time(read, *, using: str, timeout_ms: int):
    """`read()`, or None when the database takes longer than timeout_ms (PostgreSQL).

    For what a page can do without: an exact count, the bounds of a filtered
    list. The timeout is local to a savepoint and restored afterwards, so the
    rest of the request runs with the server's setting. Elsewhere: `read()`.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return read()
    # Outside a transaction (a console request) the setting ends with ours: nothing to restore.
    nested = connection.in_atomic_block
    try:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            if nested:
                cursor.execute("SELECT current_setting('statement_timeout')")
                previous = cursor.fetchone()[0]
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [str(timeout_ms)])
            result = read()
            if nested:
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])
            return result
    except DatabaseError:
        # The timeout (QueryCanceled) rolled the savepoint back, and the setting with it.
        return None


def estimate_count(queryset: QuerySet) -> int:
    """The planner's row estimate: the table's size when unfiltered, else EXPLAIN's."""
    connection = connections[queryset.db]
    query = queryset.query
    with connection.cursor() as cursor:
        if not query.where:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [queryset.model._meta.db_table],
            )
            row = cursor.fetchone()
            if row and row[0] >= 0:  # -1: never analysed
                return row[0]
        sql, params = queryset.order_by().values("pk").query.sql_with_params()
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        return int(plan[0]["Plan"]["Plan Rows"])

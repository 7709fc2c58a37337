"""Hot queries built and compiled once per process, then run with new values.

Building a queryset and compiling it to SQL costs Django far more CPU than
PostgreSQL needs to run the result: on the StartTransaction path, the
tariff rule's query alone took about 45% of the writer thread's CPU,
nearly all of it in `filter()` and the SQL compiler. A template holds the
SQL Django compiled once, for stand-in values that cannot occur in real
data; each run passes the real values where the stand-ins were. The
queryset stays the one definition of the query: the template is only its
compiled form.

The SQL of some querysets depends on their values (the length of a list,
None becoming IS NULL): a template is compiled once per shape of the values,
worked out from them. A queryset that changes a value on its way to the SQL
(SQLite's case-insensitive match escapes it for LIKE) runs as itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connections
from django.db.models import Model, QuerySet

# Stand-ins: values no real row or argument has (negative keys, a date in
# 1901, text with a NUL, which PostgreSQL cannot even store).
_FIRST_KEY = -(10**15)
_FIRST_MOMENT = datetime(1901, 1, 1, tzinfo=UTC)


def _shape_of(value: Any) -> Hashable:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return (list, len(value))
    if isinstance(value, bool):  # before int: a bool is an int
        return (bool, value)  # a flag may change the SQL: part of the shape
    return type(value)


class QueryTemplate:
    """`build(**values)` returns the queryset; `rows(**values)` runs its SQL with them.

    Values may be ints, strs, aware datetimes, None, bools, and lists of
    those; the queryset must pass each one to the SQL unchanged (as filters
    on keys, times and exact text do). Model instances come back as from the
    queryset, with its annotations, but nothing is prefetched or followed.
    """

    def __init__(self, build: Callable[..., QuerySet]):
        self._build = build
        self._compiled: dict[Hashable, tuple[QuerySet, str | None, list]] = {}
        self._lock = threading.Lock()

    def rows(self, **values: Any) -> list[Model]:
        """The queryset's model instances for these values, annotations included."""
        shape = tuple(sorted((name, _shape_of(value)) for name, value in values.items()))
        compiled = self._compiled.get(shape)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.setdefault(shape, self._compile(values))
        queryset, sql, slots = compiled
        if sql is None:
            return list(self._build(**values))
        instances = list(queryset.model.objects.raw(sql, [slot(values) for slot in slots]))
        # A raw query converts the model's columns only: the annotations get
        # the conversions the queryset would give them (SQLite returns text
        # for a datetime, an int for a boolean).
        connection = connections[queryset.db]
        for alias, annotation in queryset.query.annotations.items():
            converters = connection.ops.get_db_converters(
                annotation
            ) + annotation.output_field.get_db_converters(connection)
            for instance in instances if converters else ():
                value = getattr(instance, alias)
                for converter in converters:
                    value = converter(value, annotation, connection)
                setattr(instance, alias, value)
        return instances

    def _compile(self, values: dict[str, Any]) -> tuple[QuerySet, str | None, list]:
        stand_ins: list[tuple[Any, Callable[[dict], Any]]] = []
        counter = iter(range(10**6))

        def stand_in(value: Any, take: Callable[[dict], Any]) -> Any:
            if isinstance(value, bool) or value is None:
                return value
            number = next(counter)
            if isinstance(value, int):
                fake: Any = _FIRST_KEY - number
            elif isinstance(value, datetime):
                fake = _FIRST_MOMENT + timedelta(microseconds=number)
            elif isinstance(value, str):
                fake = f"\x00%_{number}"  # a LIKE's escaping would change it: seen, not missed
            else:
                raise TypeError(f"a query template cannot stand in for {type(value).__name__}")
            stand_ins.append((fake, take))
            return fake

        fakes = {}
        for name, value in values.items():
            if isinstance(value, list | tuple):
                fakes[name] = [
                    stand_in(item, lambda given, name=name, index=index: given[name][index])
                    for index, item in enumerate(value)
                ]
            else:
                fakes[name] = stand_in(value, lambda given, name=name: given[name])
        queryset = self._build(**fakes)
        sql, params = queryset.query.sql_with_params()
        # A backend may pass a value on in its own form: SQLite gets datetimes
        # as text. Each stand-in is looked for as given and in that form.
        ops = connections[queryset.db].ops
        takers: dict[Any, tuple[Any, Callable[[dict], Any]]] = {}
        for fake, take in stand_ins:
            takers[fake] = (fake, take)
            if isinstance(fake, datetime):
                adapt = ops.adapt_datetimefield_value
                takers[adapt(fake)] = (
                    fake,
                    lambda given, take=take, adapt=adapt: adapt(take(given)),
                )
        slots, used = [], set()
        for param in params:
            fake, take = (
                takers.get(param, (None, None)) if isinstance(param, Hashable) else (None, None)
            )
            if take is None:
                slots.append(lambda given, fixed=param: fixed)
            else:
                slots.append(take)
                used.add(fake)
        if any(fake not in used for fake, _ in stand_ins):
            # The queryset changed a value on its way to the SQL (a pattern,
            # an escape): this shape runs as the queryset itself, never with
            # a stand-in left in the SQL.
            return queryset, None, []
        return queryset, sql, slots

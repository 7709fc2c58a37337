"""Debug mode that is safe to leave running: a small query log per connection.

With DEBUG on, Django appends every query of a connection to
`connection.queries_log` (up to 9,000 entries, SQL with its parameters
inlined) and clears it only when a request starts. Long-lived work outside
requests (the consumers' ORM thread, the group-commit writer threads, Celery
workers) never clears it: with large frames a Daphne process grew from 154 to
743 MiB. Here every connection opened while DEBUG is on gets a log of at
most DEBUG_QUERY_LOG_LIMIT entries, each SQL text cut at SQL_CHARS.

Connections opened with DEBUG off keep Django's own log (tests capture
queries on it with CaptureQueriesContext).
"""

from __future__ import annotations

from collections import deque

from django.conf import settings
from django.db.backends.signals import connection_created

SQL_CHARS = 4000


class BoundedQueryLog(deque):
    """A queries_log that keeps few entries and cuts long SQL (a bulk INSERT of frames)."""

    def append(self, entry: dict) -> None:
        sql = entry.get("sql")
        if isinstance(sql, str) and len(sql) > SQL_CHARS:
            entry = {**entry, "sql": f"{sql[:SQL_CHARS]}... ({len(sql)} characters)"}
        super().append(entry)


def bound_query_log(sender, connection, **kwargs) -> None:
    """On each new database connection: with DEBUG on, make its query log small."""
    if not settings.DEBUG or isinstance(connection.queries_log, BoundedQueryLog):
        return
    connection.queries_log = BoundedQueryLog(
        connection.queries_log, maxlen=settings.DEBUG_QUERY_LOG_LIMIT
    )


def install() -> None:
    connection_created.connect(bound_query_log, dispatch_uid="monitoring.debug_safety")

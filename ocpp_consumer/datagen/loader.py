"""Streaming generated rows into the database: COPY on PostgreSQL, executemany elsewhere.

On PostgreSQL the secondary indexes and unique constraints of the tables
being filled are dropped first and built again at the end (one sort per
index instead of a random insert per row), and foreign keys are not checked
row by row when the role may switch that off (session_replication_role):
the generator's keys are right by construction, and the rebuilt unique
indexes check its uniqueness all the same.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from django.db import connection, transaction

logger = logging.getLogger(__name__)

CHUNK_ROWS = 500_000  # rows per committed COPY: progress, and a bounded transaction


def _pg_timestamp_cache() -> Callable[[float], str]:
    seconds: dict[int, str] = {}

    def stamp(epoch: float) -> str:
        whole = int(epoch)
        prefix = seconds.get(whole)
        if prefix is None:
            if len(seconds) > 200_000:
                seconds.clear()
            prefix = seconds[whole] = datetime.fromtimestamp(whole, UTC).strftime(
                "%Y-%m-%d %H:%M:%S"
            )
        return f"{prefix}.{int((epoch - whole) * 1_000_000):06d}+00"

    return stamp


def _sqlite_timestamp_cache() -> Callable[[float], str]:
    # Django keeps aware datetimes on SQLite as naive UTC text.
    pg = _pg_timestamp_cache()
    return lambda epoch: pg(epoch)[:-3]


class Loader:
    """Writes rows of a model's table, in the database's fastest bulk path."""

    def __init__(self, out: Callable[[str], None]):
        self.out = out
        self.postgresql = connection.vendor == "postgresql"
        self.timestamp = _pg_timestamp_cache() if self.postgresql else _sqlite_timestamp_cache()
        # (table, name, the statement that builds it again)
        self._dropped: list[tuple[str, str, str]] = []
        self.fast_keys = False

    # --- Rows -----------------------------------------------------------------

    def next_id(self, model) -> int:
        table = model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT MAX(id) FROM {table}")  # noqa: S608 - our table name
            current = cursor.fetchone()[0]
        return (current or 0) + 1

    def load(self, model, columns: tuple[str, ...], rows: Iterable[tuple], label: str = "") -> int:
        """Write every row (tuples in `columns` order); return how many."""
        table = model._meta.db_table
        label = label or model._meta.verbose_name_plural
        started = time.perf_counter()
        written = 0
        batch: list[tuple] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= CHUNK_ROWS:
                written += self._write(table, columns, batch)
                batch = []
                self._progress(label, written, started)
        if batch:
            written += self._write(table, columns, batch)
        self._progress(label, written, started, done=True)
        if columns[0] == "id":  # explicit keys: what the application adds next follows them
            self.reset_sequence(model)
        return written

    def _write(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> int:
        with transaction.atomic(), connection.cursor() as cursor:
            if self.postgresql:
                statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
                with cursor.cursor.copy(statement) as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(columns))
                cursor.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608
                    rows,
                )
        return len(rows)

    def load_text(self, model, columns: tuple[str, ...], lines: Iterable[str], label: str) -> int:
        """PostgreSQL only: COPY pre-formatted text lines (tab-separated, escaped)."""
        table = model._meta.db_table
        started = time.perf_counter()
        written = 0
        batch: list[str] = []
        for line in lines:
            batch.append(line)
            if len(batch) >= CHUNK_ROWS:
                written += self._write_text(table, columns, batch)
                batch = []
                self._progress(label, written, started)
        if batch:
            written += self._write_text(table, columns, batch)
        self._progress(label, written, started, done=True)
        return written

    def _write_text(self, table: str, columns: tuple[str, ...], lines: list[str]) -> int:
        with transaction.atomic(), connection.cursor() as cursor:
            statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            with cursor.cursor.copy(statement) as copy:
                for start in range(0, len(lines), 20_000):
                    copy.write("".join(lines[start : start + 20_000]))
        return len(lines)

    def _progress(self, label: str, written: int, started: float, done: bool = False) -> None:
        seconds = time.perf_counter() - started
        rate = written / seconds if seconds > 0 else 0.0
        state = "done" if done else "..."
        self.out(f"  {label}: {written:,} rows {state} ({seconds:,.1f} s, {rate:,.0f} rows/s)")

    def reset_sequence(self, model) -> None:
        """After explicit ids: the next row the application adds gets the next id."""
        if not self.postgresql:
            return  # SQLite's AUTOINCREMENT follows the largest id inserted
        table = model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                f"GREATEST((SELECT MAX(id) FROM {table}), 1))",  # noqa: S608
                [table],
            )

    # --- Indexes and keys (PostgreSQL) ------------------------------------------

    def begin_bulk(self, models) -> None:
        """Drop the secondary indexes and unique constraints of these tables until finish_bulk."""
        if not self.postgresql:
            return
        with connection.cursor() as cursor:
            try:
                with transaction.atomic():
                    cursor.execute("SET session_replication_role = replica")
                self.fast_keys = True
            except Exception:  # not a superuser: every foreign key is checked as usual
                logger.info("foreign keys stay checked row by row (not a superuser)")
            for model in models:
                table = model._meta.db_table
                cursor.execute(
                    """
                    SELECT c.conname, pg_get_constraintdef(c.oid)
                    FROM pg_constraint c
                    WHERE c.conrelid = %s::regclass AND c.contype = 'u'
                    """,
                    [table],
                )
                for name, definition in cursor.fetchall():
                    cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
                    self._dropped.append(
                        (table, name, f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
                    )
                cursor.execute(
                    """
                    SELECT i.relname, pg_get_indexdef(x.indexrelid)
                    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                    WHERE x.indrelid = %s::regclass AND NOT x.indisprimary
                      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
                    """,
                    [table],
                )
                for name, definition in cursor.fetchall():
                    cursor.execute(f'DROP INDEX "{name}"')
                    self._dropped.append((table, name, definition))

    def finish_bulk(self) -> None:
        """Rebuild what begin_bulk dropped, then refresh the planner's statistics."""
        if not self.postgresql:
            return
        with connection.cursor() as cursor:
            if self.fast_keys:
                cursor.execute("SET session_replication_role = DEFAULT")
            cursor.execute("SET maintenance_work_mem = '512MB'")
            while self._dropped:
                table, name, statement = self._dropped[0]
                started = time.perf_counter()
                cursor.execute(statement)
                self._dropped.pop(0)
                self.out(f"  index {name} on {table}: {time.perf_counter() - started:,.1f} s")
            cursor.execute("RESET maintenance_work_mem")

    def vacuum_analyze(self, models) -> None:
        """Statistics for the planner; on PostgreSQL also the visibility map (index-only scans),
        as autovacuum leaves an append-only table after a while."""
        with connection.cursor() as cursor:
            for model in models:
                table = model._meta.db_table
                started = time.perf_counter()
                cursor.execute(f"VACUUM ANALYZE {table}" if self.postgresql else f"ANALYZE {table}")
                self.out(f"  vacuum/analyze {table}: {time.perf_counter() - started:,.1f} s")


def copy_text(value: str) -> str:
    """A value as COPY's text format spells it (backslash, tab, newline escaped)."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )

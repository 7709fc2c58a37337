"""The message journal: every frame in and out, written in batches.

A database round trip per frame would halve the message rate, so frames are
buffered in memory and written by one background task every
OCPP_JOURNAL_FLUSH_INTERVAL seconds (or sooner when the buffer fills). A
crash loses at most that last moment of the journal, never business data:
handlers commit their own records before answering.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .models import Direction, JournalEntry

logger = logging.getLogger(__name__)

FLUSH_AT_ROWS = 500


# Column order of a buffered row (a plain tuple: building a model instance per
# frame cost more than the rest of the journal).
COLUMNS = (
    "charge_point_id",
    "direction",
    "message_type",
    "unique_id",
    "action",
    "payload",
    "error_code",
    "raw",
    "timestamp",
)


def _write(rows: list[tuple]) -> None:
    """Insert buffered rows: COPY on PostgreSQL, one bulk INSERT elsewhere."""
    if connection.vendor != "postgresql":
        JournalEntry.objects.bulk_create(
            JournalEntry(**dict(zip(COLUMNS, r, strict=True))) for r in rows
        )
        return
    table = JournalEntry._meta.db_table
    statement = f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN"
    with transaction.atomic(), connection.cursor() as cursor:
        with cursor.cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(_copy_row(row))


def _copy_row(row: tuple) -> tuple:
    payload = row[5]
    return (*row[:5], None if payload is None else json.dumps(payload), *row[6:])


class JournalBuffer:
    def __init__(self) -> None:
        self._rows: list[tuple] = []
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None

    def record(
        self,
        *,
        charge_point_pk: int,
        direction: Direction,
        message_type: int | None = None,
        unique_id: Any = "",
        action: str = "",
        payload: Any = None,
        error_code: str = "",
        raw: str = "",
    ) -> None:
        if not settings.OCPP_JOURNAL_ENABLED:
            return
        self._rows.append(
            (
                charge_point_pk,
                str(direction),  # the value ("in"), not the enum: COPY would write its name
                message_type,
                str(unique_id)[:100],
                action[:50],
                payload,
                error_code,
                raw[:10_000],
                timezone.now(),
            )
        )
        self._ensure_writer()
        if len(self._rows) >= FLUSH_AT_ROWS:
            self._wakeup.set()

    async def flush(self) -> int:
        """Write what is buffered now; return the number of rows written."""
        rows, self._rows = self._rows, []
        if not rows:
            return 0
        try:
            await database_sync_to_async(_write)(rows)
        except Exception:  # the journal must never take the protocol down
            logger.exception("could not write %d journal rows", len(rows))
            return 0
        return len(rows)

    def _ensure_writer(self) -> None:
        loop = asyncio.get_running_loop()
        # One writer per event loop (tests run a new loop per test).
        if self._task is not None and not self._task.done() and self._loop is loop:
            return
        self._loop = loop
        self._wakeup = asyncio.Event()
        self._task = loop.create_task(self._writer())

    async def _writer(self) -> None:
        while True:
            try:
                await asyncio.wait_for(
                    self._wakeup.wait(), timeout=settings.OCPP_JOURNAL_FLUSH_INTERVAL
                )
            except TimeoutError:
                pass
            self._wakeup.clear()
            await self.flush()


journal = JournalBuffer()

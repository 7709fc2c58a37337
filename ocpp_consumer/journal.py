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
from operator import itemgetter
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from monitoring.metrics import JOURNAL_ROWS_DROPPED

from .models import Direction, JournalEntry
from .quotas import JournalBudget, journal_fields
from .storable import json_text_needs_cleaning, storable, storable_text

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


# Times a batch is repeated after a deadlock before it counts as failed.
TRANSIENT_RETRIES = 3


def _write(rows: list[tuple]) -> int:
    """Insert buffered rows; return how many had to be dropped.

    Text the database cannot store (NUL, lone surrogates) is escaped first.
    If the batch still fails for its data (not for a lost connection), the
    rows go one by one, so that only a bad row is lost, and logged.
    """
    # COPY escapes the payload while it serialises it anyway (_copy_row).
    with_payload = connection.vendor != "postgresql"
    # One charge point after the other: the foreign-key checks then take their
    # row locks in the order other writers take them, which keeps deadlocks rare.
    rows = sorted(
        (_storable_row(row, with_payload=with_payload) for row in rows), key=itemgetter(0)
    )
    try:
        _insert_retrying(rows)
        return 0
    except (OperationalError, InterfaceError) as exc:
        if len(rows) == 1 or not _transient(exc):
            raise  # the database is away: one row at a time would not help
        # Chosen as a deadlock's victim again and again (its foreign-key
        # checks lock many charge points at COMMIT): a row alone locks one.
        logger.warning("a journal batch of %d rows kept deadlocking: row by row", len(rows))
    except Exception:
        if len(rows) == 1:
            logger.exception("journal row dropped: %s", _describe(rows[0]))
            return 1
        logger.warning("a journal batch of %d rows failed: writing them one by one", len(rows))
    dropped = 0
    for row in rows:
        try:
            _insert_retrying([row])
        except Exception:
            logger.exception("journal row dropped: %s", _describe(row))
            dropped += 1
    return dropped


def _sqlstate(exc: Exception) -> str:
    return str(getattr(exc.__cause__, "sqlstate", "") or "")


def _transient(exc: Exception) -> bool:
    """A deadlock or serialization failure (class 40): the same write succeeds when repeated."""
    return _sqlstate(exc).startswith("40")


def _insert_retrying(rows: list[tuple]) -> None:
    """`_insert`, again when the database chose this batch as a deadlock's victim.

    A deadlock or serialization failure (SQLSTATE class 40) is transient: the
    other transaction goes on, so the same batch succeeds when repeated. It
    is an OperationalError, which otherwise means "the database is away".
    """
    for attempt in range(TRANSIENT_RETRIES + 1):
        try:
            _insert(rows)
            return
        except OperationalError as exc:
            if not _transient(exc) or attempt == TRANSIENT_RETRIES:
                raise
            logger.info("journal batch of %d rows hit %s: repeating it", len(rows), _sqlstate(exc))


def _insert(rows: list[tuple]) -> None:
    """COPY on PostgreSQL, one bulk INSERT elsewhere; all or nothing."""
    if connection.vendor != "postgresql":
        with transaction.atomic():
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


# Positions of the text columns in a buffered row (with their length limit,
# which an escape may push a value over), and of the JSON payload.
TEXT_COLUMNS = {
    COLUMNS.index(name): JournalEntry._meta.get_field(name).max_length
    for name in ("unique_id", "action", "error_code", "raw")
}
PAYLOAD = COLUMNS.index("payload")


def _storable_row(row: tuple, *, with_payload: bool) -> tuple:
    """The row with NUL and lone surrogates escaped ("\\u0000"), itself if it has none."""
    changed = {}
    for i, limit in TEXT_COLUMNS.items():
        if isinstance(row[i], str) and (text := storable_text(row[i])) is not row[i]:
            changed[i] = text[:limit]
    payload = row[PAYLOAD]
    if with_payload and payload is not None and json_text_needs_cleaning(json.dumps(payload)):
        if (cleaned := storable(payload)) is not payload:
            changed[PAYLOAD] = cleaned
    if not changed:
        return row
    return tuple(changed.get(i, value) for i, value in enumerate(row))


def _copy_row(row: tuple) -> tuple:
    payload = row[PAYLOAD]
    if payload is not None:
        payload = json.dumps(payload)
        if json_text_needs_cleaning(payload):  # jsonb refuses "\\u0000" and lone surrogates
            payload = json.dumps(storable(row[PAYLOAD]))
    return (*row[:PAYLOAD], payload, *row[PAYLOAD + 1 :])


def _describe(row: tuple) -> str:
    fields = dict(zip(COLUMNS, row, strict=True))
    return "charge point pk {charge_point_id}, {direction} {action} {unique_id}".format(**fields)


class JournalBuffer:
    def __init__(self) -> None:
        self._rows: list[tuple] = []
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._budget = JournalBudget()

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
        frame: str | None = None,
    ) -> None:
        """Buffer a row; `frame` is the text of a frame a charge point sent.

        A charge point's frames are kept within the storage limits (quotas):
        a large one as its head, size and hash.
        """
        if not settings.OCPP_JOURNAL_ENABLED:
            return
        if frame is not None:
            payload, raw = journal_fields(
                budget=self._budget,
                charge_point_pk=charge_point_pk,
                message_type=message_type,
                action=action,
                payload=payload,
                raw=raw,
                frame=frame,
            )
        self._rows.append(
            (
                charge_point_pk,
                str(direction),  # the value ("in"), not the enum: COPY would write its name
                message_type,
                str(unique_id)[:100],
                action[:50],
                payload,
                error_code,
                raw[: settings.OCPP_JOURNAL_MAX_PAYLOAD_BYTES],
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
            dropped = await database_sync_to_async(_write)(rows)
        except Exception:  # the journal must never take the protocol down
            logger.exception("could not write %d journal rows", len(rows))
            JOURNAL_ROWS_DROPPED.labels("database").inc(len(rows))
            return 0
        if dropped:
            JOURNAL_ROWS_DROPPED.labels("bad_row").inc(dropped)
        return len(rows) - dropped

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

"""Group commit: the business writes of many charge points in one transaction.

A durable message (StartTransaction, StopTransaction, MeterValues,
StatusNotification) is committed before its CALLRESULT is sent. With one
transaction per message, the process's single ORM thread waits for one
COMMIT after another: measured at 290 msgs/s, that thread was busy 99% of the
time, a third of it in COMMIT, while the CPU was 35% idle. Here the writes
that arrive while a batch is being written wait for it and then go together:
one thread hop and one COMMIT for the whole batch, and the MeterValues of the
whole batch in one INSERT. Nothing waits for a timer: a lone write goes at
once, so an idle system answers as fast as before.

Each charge point has at most one CALL in flight, so a batch holds at most
one write per charge point and their order within the batch does not matter.
If any write of a batch fails, the batch is rolled back and each write runs
again in its own transaction: one charge point's bad message fails only its
own answer. A write the database refused for its text (a NUL or a lone
surrogate in an idTag, a meter value, a status info: legal in JSON, refused
by PostgreSQL or the driver) is tried once more with those characters
replaced by U+FFFD, so that it is answered like any other message (an idTag
that cannot exist is unknown) instead of failing, and a StopTransaction
still gets its CALLRESULT.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import close_old_connections, connection, transaction

from .outage import database_unavailable
from .storable import replaced, storable

logger = logging.getLogger(__name__)

MAX_BATCH = 500


@dataclass
class Write:
    func: Callable[..., Any]
    kwargs: dict
    # A grouped func takes the kwargs of all its writes in the batch as one
    # list and returns their results in order: one query for all of them.
    grouped: bool = False
    future: asyncio.Future | None = field(default=None, repr=False)


def _write_all(writes: list[Write]) -> list[Any]:
    """Run the writes in the current transaction; grouped ones in one call per func."""
    results: list[Any] = [None] * len(writes)
    groups: dict[Callable, list[int]] = {}
    for index, write in enumerate(writes):
        if write.grouped:
            groups.setdefault(write.func, []).append(index)
        else:
            results[index] = write.func(**write.kwargs)
    for func, indexes in groups.items():
        outcomes = func([writes[index].kwargs for index in indexes])
        for index, outcome in zip(indexes, outcomes, strict=True):
            results[index] = outcome
    return results


def commit_batch(writes: list[Write]) -> list[tuple[bool, Any]]:
    """Write a batch in one transaction; (ok, result or exception) per write."""
    try:
        return [(True, result) for result in _in_one_transaction(writes)]
    except Exception as exc:
        if len(writes) == 1:
            return [_again_with_storable_text(writes[0], exc)]
        if database_unavailable(exc):  # one by one, each write would wait for it again
            return [(False, exc)] * len(writes)
        logger.info("a batch of %d writes failed (%r): writing them one by one", len(writes), exc)
    return [commit_batch([write])[0] for write in writes]


def _again_with_storable_text(write: Write, exc: Exception) -> tuple[bool, Any]:
    """Retry a failed write whose text the database cannot store; else its failure."""
    kwargs = storable(write.kwargs, replaced)
    if kwargs is write.kwargs:
        return (False, exc)  # nothing to replace: the failure stands
    logger.warning("a write with NUL or lone surrogates (%r): retried with U+FFFD", exc)
    try:
        return (True, _in_one_transaction([replace(write, kwargs=kwargs)])[0])
    except Exception as again:
        return (False, again)


def _in_one_transaction(writes: list[Write]) -> list[Any]:
    committed: list[bool] = []
    results: list[Any] | None = None
    try:
        with transaction.atomic():
            # Runs first after COMMIT: tells a failing later hook (a broker
            # that is down) from a failed write.
            transaction.on_commit(lambda: committed.append(True))
            results = _write_all(writes)
    except Exception:
        if not committed or results is None:
            raise
        logger.exception("a hook after %d committed writes failed", len(writes))
    return results


class GroupCommitter:
    """Collects writes on the event loop and commits them in batches on writer threads.

    Up to `writers` batches are written at once, each on a thread of its own
    with its own database connection: while one waits for PostgreSQL, the next
    is built (measured: the single ORM thread spent 79% of its time waiting in
    psycopg). With one writer, batches run on Channels' ORM thread, as every
    other database call of the consumer does; always so on SQLite.
    """

    def __init__(self, max_batch: int = MAX_BATCH, writers: int | None = None):
        self.max_batch = max_batch
        self.writers = writers
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pending: list[Write] = []
        self.running: set[asyncio.Task] = set()
        self._executor: ThreadPoolExecutor | None = None

    async def write(self, func: Callable[..., Any], /, **kwargs) -> Any:
        """Run `func(**kwargs)` in a committed transaction shared with other writes."""
        return await self._submit(Write(func, kwargs))

    async def write_grouped(self, func: Callable[[list[dict]], list[Any]], /, **kwargs) -> Any:
        """Like write, with the batch's writes to `func` done in one call to it."""
        return await self._submit(Write(func, kwargs, grouped=True))

    async def _submit(self, write: Write) -> Any:
        loop = asyncio.get_running_loop()
        if self.loop is not loop:  # a new event loop (tests): nothing carries over
            self.loop, self.pending, self.running = loop, [], set()
        write.future = future = loop.create_future()
        self.pending.append(write)
        self._start_batches()
        return await future

    def _writer_count(self) -> int:
        if connection.vendor == "sqlite":
            return 1  # one writer at a time anyway: more threads would wait for its lock
        return max(1, self.writers or settings.OCPP_WRITER_THREADS)

    def _start_batches(self) -> None:
        while self.pending and len(self.running) < self._writer_count():
            batch, self.pending = self.pending[: self.max_batch], self.pending[self.max_batch :]
            task = self.loop.create_task(self._write(batch))
            self.running.add(task)
            task.add_done_callback(self._batch_done)

    def _batch_done(self, task: asyncio.Task) -> None:
        self.running.discard(task)
        if not task.cancelled():
            self._start_batches()

    async def _write(self, batch: list[Write]) -> None:
        try:
            if self._writer_count() == 1:
                outcomes = await database_sync_to_async(commit_batch)(batch)
            else:
                outcomes = await sync_to_async(
                    _commit_on_writer_thread, thread_sensitive=False, executor=self._threads()
                )(batch)
        except Exception as exc:  # the hop itself failed
            outcomes = [(False, exc)] * len(batch)
        except BaseException:  # the event loop is going away
            for write in batch + self.pending:
                write.future.cancel()
            raise
        _settle(batch, outcomes)

    def _threads(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self._writer_count(), thread_name_prefix="ocpp-writer"
            )
        return self._executor


def _commit_on_writer_thread(batch: list[Write]) -> list[tuple[bool, Any]]:
    # What database_sync_to_async does around a call: a stale or broken
    # connection is replaced, and a pooled one goes back to the pool after.
    close_old_connections()
    try:
        return commit_batch(batch)
    finally:
        close_old_connections()


def _settle(batch: list[Write], outcomes: list[tuple[bool, Any]]) -> None:
    for write, (ok, value) in zip(batch, outcomes, strict=True):
        if write.future.done():
            continue  # its socket closed meanwhile; the write stands
        if ok:
            write.future.set_result(value)
        else:
            write.future.set_exception(value)


committer = GroupCommitter()

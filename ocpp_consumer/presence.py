"""Last seen and heartbeat times of a process's charge points, one UPDATE for many.

Every charge point's "last seen" (at most once a minute) and each Heartbeat
was its own UPDATE on the consumers' one database thread: at 50,000 charge
points about 450 single-row statements a second, each a thread hop and a
commit, queued in front of the charge points' other database work. Here the
presences that arrive while one write runs go together in the next one (a
lone presence goes at once, as in group_commit.py), and the charge point's
frame never waits for it; a Heartbeat's answer does (`written`): its time is
committed before it is answered, as before.

The write runs on the consumers' database thread (database_sync_to_async),
the same one that records a disconnect: a presence noted before its
charge point's disconnect is written before it, and `forget` drops one that
is still waiting, so a closed socket is never marked online again by a
late write of its own.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from channels.db import database_sync_to_async
from django.db import DatabaseError
from django.utils import timezone

from stations.services import Presence, chargepoints_presence_record

from .outage import database_unavailable

logger = logging.getLogger(__name__)


class PresenceWriter:
    """Collects presences on the event loop and writes them in batches."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pending: dict[int, Presence] = {}
        self.waiters: dict[int, list[asyncio.Future]] = {}
        self.writing: asyncio.Task | None = None

    def note(
        self, *, charge_point_pk: int, channel_name: str, heartbeat: bool = False
    ) -> asyncio.Future:
        """Record that the charge point was heard from now; the future ends once written."""
        loop = asyncio.get_running_loop()
        if self.loop is not loop:  # a new event loop (tests): nothing carries over
            self.loop, self.pending, self.waiters, self.writing = loop, {}, {}, None
        now = timezone.now()
        earlier = self.pending.get(charge_point_pk)
        heartbeat_at = now if heartbeat else (earlier.heartbeat_at if earlier else None)
        self.pending[charge_point_pk] = Presence(charge_point_pk, channel_name, now, heartbeat_at)
        future = loop.create_future()
        self.waiters.setdefault(charge_point_pk, []).append(future)
        if self.writing is None:
            self.writing = loop.create_task(self._write_all())
        return future

    def forget(self, charge_point_pk: int) -> None:
        """The socket closed: what it left unwritten is not written."""
        self.pending.pop(charge_point_pk, None)
        for future in self.waiters.pop(charge_point_pk, []):
            if not future.done():
                future.set_result(None)

    async def _write_all(self) -> None:
        try:
            while self.pending:
                batch, self.pending = list(self.pending.values()), {}
                waiters = [self.waiters.pop(p.charge_point_pk, []) for p in batch]
                try:
                    await database_sync_to_async(chargepoints_presence_record)(batch)
                    outcome: BaseException | None = None
                except Exception as exc:  # an outage must not cost a frame or a socket
                    if not (isinstance(exc, DatabaseError) and database_unavailable(exc)):
                        logger.exception("last seen of %d charge points not recorded", len(batch))
                    else:
                        logger.warning("last seen of %d charge points not recorded", len(batch))
                    outcome = exc
                for futures in waiters:
                    for future in futures:
                        if future.done():
                            continue
                        if outcome is None:
                            future.set_result(None)
                        else:
                            future.set_exception(outcome)
                            future.exception()  # retrieved: a touch nobody awaits is logged above
        finally:
            self.writing = None


presence = PresenceWriter()


async def heartbeat_record(*, charge_point_pk: int, channel_name: str) -> datetime:
    """A Heartbeat's time, committed (with other presences) before it is answered."""
    future = presence.note(
        charge_point_pk=charge_point_pk, channel_name=channel_name, heartbeat=True
    )
    heartbeat_at = presence.pending[charge_point_pk].heartbeat_at
    await future
    return heartbeat_at

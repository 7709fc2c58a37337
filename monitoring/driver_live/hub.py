"""The live channel's poller: one per process, for every driver with a socket open here.

Pushes (push.py) are instant but may be lost: a Redis outage, an invoice
issued by a Celery worker without the Redis layer, a process that died
after its commit. Meter values have no domain event at all: a charge point
sends them every few seconds and none of that work should grow with the
drivers watching. So every DRIVER_LIVE_UPDATE_SECONDS the hub reads, in one
query for all drivers connected to this process, their running sessions
with the latest readings, and tells each driver's sockets what changed:

- a session it had not seen: session.started (then session.updated);
- new readings (or a minute gone by, for time-based prices): session.updated
  with energy, power and the cost so far (priced only then, one query each);
- a session gone from the running ones: session.stopped, then, within
  INVOICE_WAIT_SECONDS, invoice.issued once billing has issued it.

The charge point's side does nothing for it, connected drivers or not. Each
socket drops what it already sent (a push came first), so a message is seen
once per socket. The work runs on a thread of its own, never on the thread
that writes the charge points' messages.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from . import sessions
from .sessions import NO_COST, Cost, TagIndex

logger = logging.getLogger(__name__)

# A driver's new id tag is noticed within this long.
TAG_REFRESH_SECONDS = 30.0
# A running session is priced again at least this often (prices per minute).
COST_REFRESH_SECONDS = 60.0
# A session this young is left to the push (which waits for its remote start).
PUSH_GRACE_SECONDS = 3.0
# How long an ended session's invoice is waited for (billing's sweep issues a
# missed one within half an hour).
INVOICE_WAIT_SECONDS = 3600.0

Message = tuple[frozenset[int], dict]  # (the users it is for, the message)


@dataclass
class Tracked:
    """A running session the hub follows, and what it last told about it."""

    owners: set[int]
    reading: tuple | None = None
    cost: Cost = NO_COST
    cost_at: float = float("-inf")
    told: tuple | None = None  # (energy_wh, power_w, cost) last sent


@dataclass
class PollState:
    running: dict[int, Tracked] = field(default_factory=dict)
    awaiting: dict[int, tuple[set[int], float]] = field(default_factory=dict)  # pk: owners, until
    index: TagIndex | None = None
    index_users: frozenset[int] = frozenset()
    index_at: float = float("-inf")


def _seen(session, state: PollState, owners: set[int], now: float, out: list[Message]) -> None:
    tracked = state.running.get(session.pk)
    if tracked is None:
        if session.created_at > timezone.now() - timedelta(seconds=PUSH_GRACE_SECONDS):
            return  # the push tells it (with its remote start); else the next round
        tracked = state.running[session.pk] = Tracked(owners=owners)
        command_id = sessions.command_of(session.pk)
        out.append((frozenset(owners), sessions.started_message(session, command_id=command_id)))
    tracked.owners = owners
    values = sessions.figures(session)
    if tracked.reading == values.reading and now - tracked.cost_at < COST_REFRESH_SECONDS:
        return
    if session.tariff_snapshot is not None:
        tracked.cost = sessions.cost_so_far(transaction_pk=session.pk)
    tracked.reading, tracked.cost_at = values.reading, now
    told = (values.energy_wh, values.power_w, tracked.cost.amount)
    measured = values.energy_wh is not None or values.power_w is not None
    if told != tracked.told and (tracked.told is not None or measured):
        tracked.told = told
        out.append((frozenset(owners), sessions.updated_message(session.pk, values, tracked.cost)))


def _gone(pks: list[int], state: PollState, now: float, out: list[Message]) -> None:
    for session in sessions.ended_sessions(transaction_pks=pks):
        owners = state.running[session.pk].owners
        if not sessions.session_ended(session):
            continue  # refused, or no longer theirs (a tag moved): nothing to tell
        invoice = sessions.invoice_of(session)
        out.append((frozenset(owners), sessions.stopped_message(session, invoice=invoice)))
        if invoice is not None:
            out.append((frozenset(owners), sessions.invoice_message(invoice)))
        elif sessions.awaits_invoice(session):
            state.awaiting[session.pk] = (owners, now + INVOICE_WAIT_SECONDS)
    for pk in pks:
        state.running.pop(pk, None)


def _invoices(state: PollState, now: float, out: list[Message]) -> None:
    for pk in [pk for pk, (_, until) in state.awaiting.items() if until < now]:
        del state.awaiting[pk]
    if not state.awaiting:
        return
    for invoice in sessions.invoices_of(transaction_pks=state.awaiting):
        owners, _ = state.awaiting.pop(invoice.transaction_id)
        out.append((frozenset(owners), sessions.invoice_message(invoice)))


def poll(*, user_ids: frozenset[int], state: PollState, now: float) -> list[Message]:
    """One round for these users: update `state` in place, return what to tell whom."""
    if not user_ids <= state.index_users or now - state.index_at >= TAG_REFRESH_SECONDS:
        state.index = sessions.tag_index(user_ids=user_ids)
        state.index_users, state.index_at = user_ids, now
    # Sessions of users gone from this process: forget them.
    for pk, tracked in list(state.running.items()):
        tracked.owners &= user_ids
        if not tracked.owners:
            del state.running[pk]
    for pk, (owners, _) in list(state.awaiting.items()):
        owners &= user_ids
        if not owners:
            del state.awaiting[pk]
    out: list[Message] = []
    running = sessions.running_sessions_of(index=state.index)
    for session in running:
        owners = state.index.owners(session) & user_ids
        if owners:
            _seen(session, state, owners, now, out)
    seen = {session.pk for session in running}
    gone = [pk for pk in state.running if pk not in seen]
    if gone:
        _gone(gone, state, now, out)
    _invoices(state, now, out)
    return out


# --- a driver's snapshot ------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    sessions: list[dict]
    truncated: bool
    seeds: dict[int, Tracked]


def user_snapshot(*, user_id: int, now: float) -> Snapshot:
    """A driver's running sessions, each with its latest figures and cost, for a new socket."""
    index = sessions.tag_index(user_ids=[user_id])
    running = sessions.running_sessions_of(index=index)
    entries, seeds = [], {}
    for session in running[: sessions.SNAPSHOT_LIMIT]:
        values = sessions.figures(session)
        cost = NO_COST
        if session.tariff_snapshot is not None:
            cost = sessions.cost_so_far(transaction_pk=session.pk)
        entries.append(
            sessions.snapshot_entry(session, values, cost, sessions.command_of(session.pk))
        )
        seeds[session.pk] = Tracked(
            owners={user_id},
            reading=values.reading,
            cost=cost,
            cost_at=now,
            told=(values.energy_wh, values.power_w, cost.amount),
        )
    return Snapshot(entries, len(running) > sessions.SNAPSHOT_LIMIT, seeds)


def all_snapshot() -> Snapshot:
    """Every running session (the newest SNAPSHOT_LIMIT), for an operator: energy and power,
    no prices or commands (those would cost queries per session)."""
    running, truncated = sessions.running_sessions_all()
    entries = [
        sessions.snapshot_entry(session, sessions.figures(session), NO_COST, None)
        for session in running
    ]
    return Snapshot(entries, truncated, {})


# --- the hub of this process ---------------------------------------------------------------


class Socket(Protocol):
    """What the hub needs of a consumer."""

    user_id: int
    follows_own: bool  # a driver's own sessions (not an operator's `?all=1`)

    async def hub_message(self, message: dict) -> None: ...


class DriverHub:
    """The sockets of one event loop, by user, and the poller for drivers among them."""

    def __init__(self) -> None:
        self.sockets: dict[int, list[Socket]] = {}
        self.state = PollState()
        self._seeds: dict[int, Tracked] = {}
        self._task: asyncio.Task | None = None

    def join(self, socket: Socket, *, limit: int) -> list[Socket]:
        """Count a new socket; the same user's oldest ones beyond `limit` are returned, to close."""
        mine = self.sockets.setdefault(socket.user_id, [])
        mine.append(socket)
        evicted = mine[: max(len(mine) - limit, 0)]
        del mine[: len(evicted)]
        if socket.follows_own and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._run())
        return evicted

    def leave(self, socket: Socket) -> None:
        mine = self.sockets.get(socket.user_id, [])
        if socket in mine:
            mine.remove(socket)
        if not mine:
            self.sockets.pop(socket.user_id, None)

    def seed(self, seeds: dict[int, Tracked]) -> None:
        """What a new socket's snapshot told: not repeated, and followed from now on."""
        for pk, tracked in seeds.items():
            if pk in self._seeds:
                self._seeds[pk].owners |= tracked.owners
            else:
                self._seeds[pk] = tracked

    def drivers(self) -> frozenset[int]:
        return frozenset(
            user_id
            for user_id, mine in self.sockets.items()
            if any(socket.follows_own for socket in mine)
        )

    async def _run(self) -> None:
        while self.drivers():
            await asyncio.sleep(settings.DRIVER_LIVE_UPDATE_SECONDS)
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is down: the next round tries again
                logger.exception("driver live: polling the drivers' sessions failed")

    async def tick(self) -> None:
        users = self.drivers()
        if not users:
            return
        for pk, tracked in self._seeds.items():
            known = self.state.running.get(pk)
            if known is None:
                self.state.running[pk] = tracked
            else:
                known.owners |= tracked.owners
        self._seeds = {}
        messages = await database_sync_to_async(poll, thread_sensitive=False)(
            user_ids=users, state=self.state, now=time.monotonic()
        )
        for owners, message in messages:
            for user_id in owners:
                for socket in list(self.sockets.get(user_id, ())):
                    if socket.follows_own:
                        try:
                            await socket.hub_message(message)
                        except Exception:  # that socket is going away; the others go on
                            logger.debug("driver live: a socket took no message", exc_info=True)


_hubs: dict[asyncio.AbstractEventLoop, DriverHub] = {}


def hub() -> DriverHub:
    """The hub of the running event loop (one per process under Daphne; one per test loop)."""
    loop = asyncio.get_running_loop()
    for old in [old for old in _hubs if old.is_closed()]:
        del _hubs[old]
    return _hubs.setdefault(loop, DriverHub())

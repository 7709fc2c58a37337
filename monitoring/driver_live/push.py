"""Domain events to the drivers' live channel: the `driver_live` subscriber.

Inline and cheap where it runs, in the commit hook of a charge point's
message (or of the relay in a Celery worker, for invoices):

- `wanted` reads memory only (watchers.registry): nobody watching, nothing
  is recorded for this subscriber at all;
- `handle` only queues the event for a small pool of threads of this
  process and returns: finding the session's owners, asking whether one of
  them watches, building the message and handing it to the channel layer
  (channel_health.call_soon, never waited for) all happen there, so a
  slow database or Redis never delays a charge point's answer. A full
  queue drops the push (counted); the live channel heals by itself: the
  hub of the process holding the driver's socket polls the driver's
  sessions (see hub.py), and a reconnecting app gets a snapshot.

A push goes to the channel-layer group of each owner who watches, and to
the group of operators following every session.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from channels.layers import get_channel_layer
from django.db import close_old_connections, connection

from events.kinds import EventKind
from events.subscribers import Event, Subscriber
from stations.choices import SessionStatus

from ..channel_health import call_soon
from . import sessions
from .metrics import LIVE_PUSHES
from .watchers import ALL, registry

logger = logging.getLogger(__name__)

GROUP_PREFIX = "driver-live"
MESSAGE_TYPE = "driver_live.message"  # the consumer's `driver_live_message`
PUSH_THREADS = 2
# Pushes queued in this process at most; beyond, they are dropped (and counted).
MAX_QUEUED = 1000
# How long a push of session.started waits for its remote start's answer to be stored.
LINK_PATIENCE_SECONDS = 2.0


def user_group(user_id: int) -> str:
    """The channel-layer group of a user's live sockets (ALL: operators following every session)."""
    return f"{GROUP_PREFIX}.all" if user_id == ALL else f"{GROUP_PREFIX}.user.{user_id}"


# --- building ------------------------------------------------------------------------


def _session_message(event: Event) -> dict | None:
    payload = event.payload
    session = sessions.session_get(transaction_pk=payload["transaction"])
    if session is None:
        return None
    if event.kind == EventKind.SESSION_STARTED:
        if payload.get("status") != SessionStatus.RUNNING:
            return None  # a refused start never ran
        command_id = sessions.command_of(
            session.pk, charge_point_pk=session.charge_point_id, patience=LINK_PATIENCE_SECONDS
        )
        return sessions.started_message(session, command_id=command_id)
    if not sessions.session_ended(session):
        return None
    return sessions.stopped_message(session, invoice=sessions.invoice_of(session))


def _invoice_message(event: Event) -> dict | None:
    invoice = sessions.invoice_get(invoice_pk=event.payload["invoice"])
    return None if invoice is None else sessions.invoice_message(invoice)


def event_push(event: Event) -> str:
    """Push one event to whoever watches its session; the result, for the metric."""
    owners = sessions.transaction_owners(transaction_pk=event.payload["transaction"])
    targets = registry.watched_among(owners | {ALL})
    if not targets:
        return "unwatched"
    if event.kind == EventKind.INVOICE_ISSUED:
        message = _invoice_message(event)
    else:
        message = _session_message(event)
    if message is None:
        return "skipped"  # nothing to tell: a refused start, a session gone
    layer = get_channel_layer()
    if layer is None:
        return "dropped"
    kind = event.kind
    envelope = {"type": MESSAGE_TYPE, "message": message}
    for target in sorted(targets):
        group = user_group(target)
        call_soon(
            "driver live push",
            lambda group=group: layer.group_send(group, envelope),
            lambda result: LIVE_PUSHES.labels(kind, result).inc(),
        )
    return "queued"


# --- queueing ---------------------------------------------------------------------------


class _PushQueue:
    """A few threads of this process that push events; bounded, never blocks its caller."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pid: int | None = None
        self._queued = 0

    def submit(self, event: Event) -> None:
        with self._lock:
            if self._queued >= MAX_QUEUED:
                LIVE_PUSHES.labels(event.kind, "dropped").inc()
                return
            self._queued += 1
            pool = self._executor()
        pool.submit(self._run, event)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None or self._pid != os.getpid():  # a forked worker starts afresh
            self._pool = ThreadPoolExecutor(
                max_workers=PUSH_THREADS, thread_name_prefix="driver-live-push"
            )
            self._pid = os.getpid()
            self._queued = 0
        return self._pool

    def _run(self, event: Event) -> None:
        close_old_connections()
        try:
            result = event_push(event)
        except Exception:
            result = "failed"
            logger.exception("driver live: could not push %s", event.kind)
        finally:
            connection.close()  # rare work: no idle connection kept by these threads
            with self._lock:
                self._queued -= 1
        if result != "queued":
            LIVE_PUSHES.labels(event.kind, result).inc()


push_queue = _PushQueue()


def driver_live_handle(event: Event) -> None:
    push_queue.submit(event)


driver_live = Subscriber(
    name="driver_live",
    kinds=frozenset({EventKind.SESSION_STARTED, EventKind.SESSION_ENDED, EventKind.INVOICE_ISSUED}),
    handle=driver_live_handle,
    inline=True,
    # A live message older than this is worth nothing: the app has resynced.
    max_age_seconds=120,
    wanted=registry.anyone,
)

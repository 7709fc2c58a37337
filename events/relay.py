"""Deliver recorded events to their subscribers until each has handled them.

Two ways in:
- `outbox_after_commit`: right after a commit, the recording process serves
  its inline subscribers (live views, metrics) from memory, writes what
  failed there to the outbox, and nudges the relay for the others.
- `outbox_relay`: the periodic relay (a Celery task, every
  EVENTS_RELAY_INTERVAL seconds, and on every nudge) claims due messages and
  delivers them inside the claiming transaction, so a handler's own writes
  (an invoice) commit together with the mark that it is done. On PostgreSQL
  the claim skips rows another relay holds (SKIP LOCKED), so relays may run
  in parallel.

A failing handler is retried with exponential back-off; it never holds up
other messages or other subscribers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .metrics import OUTBOX_DELIVERIES, OUTBOX_LAG_SECONDS
from .models import OutboxMessage
from .subscribers import Event, Subscriber, subscribers

logger = logging.getLogger(__name__)


@dataclass
class RelayReport:
    handled: int = 0
    failed: int = 0
    expired: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: RelayReport) -> None:
        self.handled += other.handled
        self.failed += other.failed
        self.expired += other.expired
        self.errors.extend(other.errors)


def retry_delay(attempts: int) -> timedelta:
    """Back-off after the n-th failure: 5 s, 10 s, 20 s ... up to EVENTS_RETRY_MAX_SECONDS."""
    seconds = min(settings.EVENTS_RETRY_MAX_SECONDS, 5 * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class Recorded:
    """An event of a committed transaction, as the recording process holds it."""

    kind: str
    payload: dict
    created_at: datetime
    inline: tuple[str, ...]  # subscribers to serve now, from memory
    durable: tuple[str, ...]  # subscribers with an outbox row, for the relay


def outbox_after_commit(*, recorded: list[Recorded]) -> None:
    """Serve inline subscribers of just-committed events; nudge the relay for the rest.

    Nudges are cheap to repeat: the invoicing nudge merges them in a thread.

    An inline delivery that fails is written to the outbox, due after the
    first back-off, so the relay retries it. Runs in a commit hook of the
    recording process: it logs, never raises.
    """
    known = subscribers()
    to_nudge: set[str] = set()
    for event in recorded:
        for name in event.inline:
            if name in known:
                _serve_inline(known[name], event)
        to_nudge.update(event.durable)
    for name in sorted(to_nudge):
        _nudge(known.get(name))


def _serve_inline(subscriber: Subscriber, recorded: Recorded) -> None:
    event = Event(None, recorded.kind, recorded.payload, recorded.created_at)
    try:
        subscriber.handle(event)
    except Exception as exc:
        _inline_failed(subscriber, recorded, event, exc)
        return
    OUTBOX_DELIVERIES.labels(subscriber.name, "handled").inc()
    lag = (timezone.now() - recorded.created_at).total_seconds()
    OUTBOX_LAG_SECONDS.labels(subscriber.name).observe(max(lag, 0.0))


def _inline_failed(
    subscriber: Subscriber, recorded: Recorded, event: Event, exc: Exception
) -> None:
    try:
        message = OutboxMessage(
            kind=recorded.kind,
            subscriber=subscriber.name,
            payload=recorded.payload,
            created_at=recorded.created_at,
        )
        _failed(message, exc, subscriber=subscriber, event=event, now=timezone.now())
    except Exception:
        logger.exception("outbox: %s lost an event (%s)", subscriber.name, recorded.kind)


def _nudge(subscriber: Subscriber | None) -> None:
    if subscriber is None or subscriber.nudge is None:
        return
    try:
        subscriber.nudge()
    except Exception as exc:  # the periodic relay comes anyway
        logger.warning("outbox: could not nudge the relay for %s: %r", subscriber.name, exc)


def outbox_relay(*, limit: int = 200, time_budget: float = 30.0) -> RelayReport:
    """Deliver due messages of every subscriber, batch by batch, until none is left.

    Stops after `time_budget` seconds so that a backlog is shared out over
    relay runs instead of one run holding a worker for ever.
    """
    report = RelayReport()
    deadline = time.monotonic() + time_budget
    while time.monotonic() < deadline:
        batch = _relay_batch(limit=limit)
        report.add(batch)
        if batch.handled + batch.failed + batch.expired < limit:
            break
    return report


def _relay_batch(*, limit: int) -> RelayReport:
    known = subscribers()
    now = timezone.now()
    with transaction.atomic():
        claimed = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(handled_at__isnull=True, next_attempt_at__lte=now, subscriber__in=known)
            .order_by("id")[:limit]
        )
        return _deliver(claimed, known=known, now=now)


def _deliver(
    messages: Iterable[OutboxMessage], *, known: dict[str, Subscriber], now: datetime
) -> RelayReport:
    report = RelayReport()
    handled: list[OutboxMessage] = []
    expired: list[int] = []
    for message in messages:
        subscriber = known[message.subscriber]
        age = (now - message.created_at).total_seconds()
        if subscriber.max_age_seconds is not None and age > subscriber.max_age_seconds:
            expired.append(message.pk)
            continue
        event = Event(message.pk, message.kind, message.payload, message.created_at)
        try:
            with transaction.atomic():
                subscriber.handle(event)
        except Exception as exc:
            _failed(message, exc, subscriber=subscriber, event=event, now=now)
            report.failed += 1
            report.errors.append(f"{message}: {exc!r}")
            continue
        handled.append(message)
    done_at = timezone.now()
    if handled:
        OutboxMessage.objects.filter(pk__in=[m.pk for m in handled]).update(
            handled_at=done_at, last_error=""
        )
        for message in handled:
            OUTBOX_DELIVERIES.labels(message.subscriber, "handled").inc()
            OUTBOX_LAG_SECONDS.labels(message.subscriber).observe(
                max((done_at - message.created_at).total_seconds(), 0.0)
            )
    if expired:
        OutboxMessage.objects.filter(pk__in=expired).update(handled_at=done_at, expired=True)
    report.handled, report.expired = len(handled), len(expired)
    return report


def _failed(
    message: OutboxMessage,
    exc: Exception,
    *,
    subscriber: Subscriber,
    event: Event,
    now: datetime,
) -> None:
    """Note the failure on the message (saved now if it was not yet) and back off."""
    attempts = message.attempts + 1
    if subscriber.failed is not None:
        try:
            with transaction.atomic():
                subscriber.failed(event, exc)
        except Exception:
            logger.exception("outbox: %s could not record its failure", message)
    message.attempts = attempts
    message.next_attempt_at = now + retry_delay(attempts)
    message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    if message.pk is None:
        message.save()
    else:
        OutboxMessage.objects.filter(pk=message.pk).update(
            attempts=message.attempts,
            next_attempt_at=message.next_attempt_at,
            last_error=message.last_error,
        )
    OUTBOX_DELIVERIES.labels(message.subscriber, "failed").inc()
    logger.warning("outbox: %s failed (attempt %d), retrying later: %r", message, attempts, exc)


def outbox_purge(*, older_than: timedelta, now: datetime | None = None) -> int:
    """Delete handled messages older than `older_than`; pending ones are kept for ever."""
    cutoff = (now or timezone.now()) - older_than
    deleted, _ = OutboxMessage.objects.filter(handled_at__lt=cutoff).delete()
    return deleted


def outbox_retry_now(*, message_ids: Iterable[int]) -> int:
    """Make failed messages due at once (an operator fixed the cause)."""
    return OutboxMessage.objects.filter(pk__in=list(message_ids), handled_at__isnull=True).update(
        next_attempt_at=timezone.now()
    )

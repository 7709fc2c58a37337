"""Record domain events in the caller's transaction (the outbox's write side)."""

from __future__ import annotations

import threading
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .kinds import EventKind
from .models import OutboxMessage
from .relay import outbox_after_commit
from .subscribers import subscribers_of

# Ids recorded by this thread (one database connection) and not yet handed to
# the relay: every event registers a commit hook, the first hook to run takes
# them all, so a transaction of many events costs one delivery round.
_recorded = threading.local()


def event_record(*, kind: EventKind, payload: dict) -> None:
    """Record that `kind` happened, for every subscriber that wants it.

    Call inside the transaction that makes the change: the event then exists
    exactly when the change does. Nothing is sent here; after the commit the
    relay hands it to its subscribers, and retries until each has handled it.
    """
    targets = [s for s in subscribers_of(kind) if s.wanted is None or s.wanted()]
    if not targets:
        return
    now = timezone.now()
    # An inline subscriber is served right after the commit; the relay takes
    # its event only if that did not happen within the grace period.
    grace = timedelta(seconds=settings.EVENTS_INLINE_GRACE_SECONDS)
    messages = OutboxMessage.objects.bulk_create(
        OutboxMessage(
            kind=kind,
            subscriber=s.name,
            payload=payload,
            created_at=now,
            next_attempt_at=now + grace if s.inline else now,
        )
        for s in targets
    )
    pending = getattr(_recorded, "ids", None)
    if pending is None:
        pending = _recorded.ids = []
    pending.extend(m.pk for m in messages)
    transaction.on_commit(_hand_to_relay, robust=True)


def _hand_to_relay() -> None:
    ids, _recorded.ids = getattr(_recorded, "ids", None) or [], []
    if ids:
        outbox_after_commit(message_ids=ids)

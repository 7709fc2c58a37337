"""Writes of the ocpp_consumer app that are not part of the protocol itself."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from .models import JournalEntry

PRUNE_BATCH = 5000


def journal_prune(
    *, now: datetime | None = None, retention_days: int | None = None, batch: int = PRUNE_BATCH
) -> int:
    """Delete journal entries older than the retention period; return how many.

    Deleted in batches, so that a large backlog never holds one long lock
    on the table the consumers keep writing to.
    """
    now = now or timezone.now()
    days = settings.OCPP_JOURNAL_RETENTION_DAYS if retention_days is None else retention_days
    cutoff = now - timedelta(days=days)
    deleted = 0
    while True:
        pks = list(
            JournalEntry.objects.filter(timestamp__lt=cutoff).values_list("pk", flat=True)[:batch]
        )
        if not pks:
            return deleted
        deleted += JournalEntry.objects.filter(pk__in=pks).delete()[0]

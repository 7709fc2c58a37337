"""Reads of the outbox: the backlog per subscriber."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Min, Q
from django.utils import timezone

from .models import OutboxMessage


@dataclass(frozen=True)
class Backlog:
    subscriber: str
    pending: int
    failing: int
    oldest_seconds: float


def outbox_backlog(*, now: datetime | None = None) -> list[Backlog]:
    """Undelivered messages per subscriber: how many, how many failed before, the oldest's age."""
    now = now or timezone.now()
    rows = (
        OutboxMessage.objects.filter(handled_at__isnull=True)
        .values("subscriber")
        .annotate(
            pending=Count("pk"),
            failing=Count("pk", filter=Q(attempts__gt=0)),
            oldest=Min("created_at"),
        )
        .order_by("subscriber")
    )
    return [
        Backlog(
            subscriber=row["subscriber"],
            pending=row["pending"],
            failing=row["failing"],
            oldest_seconds=max((now - row["oldest"]).total_seconds(), 0.0),
        )
        for row in rows
    ]

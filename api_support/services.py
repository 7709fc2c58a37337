"""Writes of the API plumbing: the idempotency records."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import IdempotencyRecord

# A key may be reused for a new request once its record is this old.
RECORD_TTL = timedelta(hours=24)


def idempotency_claim(
    *, user_id: int, key: str, method: str, path: str, fingerprint: str
) -> tuple[IdempotencyRecord, bool]:
    """Claim `key` for a request; return (record, created).

    The unique constraint decides between two requests racing with one key:
    the loser gets the winner's record (complete or still in progress).
    """
    IdempotencyRecord.objects.filter(
        user_id=user_id, key=key, created_at__lt=timezone.now() - RECORD_TTL
    ).delete()
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                user_id=user_id, key=key, method=method, path=path, fingerprint=fingerprint
            )
    except IntegrityError:
        return IdempotencyRecord.objects.get(user_id=user_id, key=key), False
    return record, True


def idempotency_complete(*, record_id: int, status_code: int, body) -> None:
    IdempotencyRecord.objects.filter(pk=record_id).update(
        status_code=status_code, response_body=body
    )


def idempotency_release(*, record_id: int) -> None:
    """Forget a claim whose request failed unexpectedly, so that it can be retried."""
    IdempotencyRecord.objects.filter(pk=record_id, status_code__isnull=True).delete()


def idempotency_purge(*, older_than: timedelta = RECORD_TTL) -> int:
    deleted, _ = IdempotencyRecord.objects.filter(
        created_at__lt=timezone.now() - older_than
    ).delete()
    return deleted

from celery import shared_task

from .services import idempotency_purge


@shared_task
def purge_idempotency_records() -> int:
    """Delete Idempotency-Key records past their lifetime; return how many."""
    return idempotency_purge()

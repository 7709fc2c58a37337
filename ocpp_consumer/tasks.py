"""Celery tasks of the ocpp_consumer app (see csms_project.schedule)."""

from celery import shared_task

from .services import journal_prune


@shared_task
def prune_journal() -> int:
    """Delete message journal entries past OCPP_JOURNAL_RETENTION_DAYS; return how many."""
    return journal_prune()

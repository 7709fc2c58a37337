"""Celery tasks of the ocpp_consumer app (see csms_project.schedule)."""

from celery import shared_task

from stations.services.data_transfer import datatransfer_purge

from .services import journal_prune


@shared_task
def prune_journal() -> int:
    """Delete message journal entries past OCPP_JOURNAL_RETENTION_DAYS; return how many."""
    return journal_prune()


@shared_task
def purge_data_transfers() -> int:
    """Delete DataTransfer records past OCPP_DATA_TRANSFER_RETENTION_DAYS; return how many.

    Here, next to the journal's pruning: both bound what charge points make us store.
    """
    return datatransfer_purge()

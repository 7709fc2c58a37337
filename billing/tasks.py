from celery import shared_task

from . import services


@shared_task(
    autoretry_for=(Exception,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
)
def invoice_create_for_transaction(transaction_id: int) -> int | None:
    """Create the invoice of a finished transaction (idempotent)."""
    invoice = services.invoice_create(transaction_id=transaction_id)
    return invoice.pk if invoice else None

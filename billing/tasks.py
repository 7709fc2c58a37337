"""Celery tasks of the billing app: thin wrappers around services, taking ids."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from . import services
from .pricing import PricingError

MAX_RETRIES = 8


@shared_task(
    bind=True,
    autoretry_for=(Exception,),
    # Retrying cannot fix a configuration error: the operator must.
    dont_autoretry_for=(PricingError,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def invoice_create_for_transaction(self, transaction_id: int) -> int | None:
    """Create the invoice of a finished transaction (idempotent).

    Every failed attempt is recorded as a BillingFailure for the operator,
    saying whether another attempt will follow.
    """
    try:
        invoice = services.invoice_create(transaction_id=transaction_id)
    except Exception as exc:
        retrying = not isinstance(exc, PricingError) and self.request.retries < self.max_retries
        services.billing_failure_record(
            transaction_id=transaction_id,
            error=f"{type(exc).__name__}: {exc}",
            will_retry=retrying,
        )
        raise
    return invoice.pk if invoice else None


@shared_task
def station_energy_rollup() -> int:
    """Recompute the hourly energy per station (beat: every hour)."""
    hours = getattr(settings, "BILLING_ENERGY_ROLLUP_HOURS", 24)
    return services.station_energy_rollup(hours=hours)


@shared_task
def invoice_sweep() -> int:
    """Invoice ended billable sessions that have none (beat: every 15 minutes).

    The safety net behind the outbox; idempotent: a second run issues nothing.
    """
    sweep = services.invoice_create_missing(
        grace=timedelta(seconds=settings.BILLING_INVOICE_SWEEP_GRACE_SECONDS),
        lookback=timedelta(days=settings.BILLING_INVOICE_SWEEP_LOOKBACK_DAYS),
    )
    return len(sweep.issued)

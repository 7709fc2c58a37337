"""Billing's reaction to domain events: invoice every billable session, once.

A session is invoiced when it ends, or, if it was disputed, when an operator
accepts or corrects it (invoice_create decides what is billable: a disputed
session's end issues nothing, a voided one never does).

The invoice is created by the outbox relay inside the transaction that marks
the event handled, so it exists exactly once however often the relay runs,
and an event stays pending (retried with back-off) until it does: a broker
or worker that was down only delays invoices.
"""

from events.kinds import EventKind
from events.subscribers import Event, Subscriber
from events.tasks import relay_outbox_nudge

from . import services
from .pricing import PricingError


def invoice_session(event: Event) -> None:
    transaction_id = event.payload["transaction"]
    try:
        services.invoice_create(transaction_id=transaction_id)
    except PricingError as exc:
        # Retrying cannot fix a configuration error: the operator must (admin:
        # billing failures -> Retry invoicing). Handled, and shown there.
        services.billing_failure_record(
            transaction_id=transaction_id, error=f"PricingError: {exc}", will_retry=False
        )


def invoice_failed(event: Event, error: Exception) -> None:
    services.billing_failure_record(
        transaction_id=event.payload["transaction"],
        error=f"{type(error).__name__}: {error}",
        will_retry=True,
    )


def relay_soon() -> None:
    relay_outbox_nudge()


invoicing = Subscriber(
    name="invoicing",
    kinds=frozenset({EventKind.SESSION_ENDED, EventKind.SESSION_DISPUTE_RESOLVED}),
    handle=invoice_session,
    failed=invoice_failed,
    nudge=relay_soon,
)

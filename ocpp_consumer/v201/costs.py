"""The running cost of an OCPP 2.0.1 session, as CostUpdated tells it to the station.

The cost is billing's (the prices fixed at the session's start, see
billing.selectors.transaction_cost_so_far); this module only shapes it.
Sending is the caller's, through the command path.
"""

from __future__ import annotations

from billing.selectors import transaction_cost_so_far
from stations.models import Transaction


def cost_updated_payload(*, transaction: Transaction) -> dict | None:
    """CostUpdatedRequest for a 2.0.1 session with prices fixed; None when it has no cost."""
    if not transaction.ocpp_transaction_id:
        return None
    bill = transaction_cost_so_far(transaction_pk=transaction.pk)
    if bill is None:
        return None
    return {"totalCost": float(bill.total), "transactionId": transaction.ocpp_transaction_id}

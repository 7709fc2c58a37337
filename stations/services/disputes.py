"""Disputed sessions: opened by the plausibility rules, closed by an operator.

A disputed session is not billed until an operator decides: accept it as
recorded, correct its energy, or void it (never billed). The decision, who
took it and why, is kept on the session; the reported energy survives a
correction.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from events.kinds import EventKind
from events.services import event_record

from ..choices import DisputeResolution
from ..models import Transaction


def transaction_dispute_open(*, session: Transaction, reasons: Sequence[str]) -> None:
    """Flag `session` (saved by the caller) for review; reasons add up, first date kept."""
    reasons = [reason for reason in reasons if reason]
    if not reasons:
        return
    known = [line for line in session.dispute_reason.splitlines() if line]
    added = [reason for reason in reasons if reason not in known]
    if not added and session.is_disputed:
        return
    session.dispute_reason = "\n".join(known + added)
    if not session.is_disputed:
        session.disputed_at = timezone.now()
        session.dispute_resolution = ""
        session.dispute_resolved_at = None
        session.dispute_resolved_by = None
    event_record(
        kind=EventKind.SESSION_DISPUTED,
        payload={
            "charge_point": session.charge_point_id,
            "transaction": session.pk,
            "reasons": added or reasons,
        },
    )


@transaction.atomic
def transaction_dispute_resolve(
    *,
    transaction_pk: int,
    resolution: DisputeResolution,
    resolved_by_id: int | None,
    note: str = "",
    energy_wh: int | None = None,
) -> Transaction:
    """Record an operator's decision on a disputed session.

    CORRECTED needs the right `energy_wh` (the reported figure is kept in
    `energy_wh_reported`); ACCEPTED and CORRECTED let the session be billed,
    VOIDED never. Raises ValidationError for a session that is not disputed
    or a decision that does not fit it.
    """
    session = Transaction.objects.select_for_update().get(pk=transaction_pk)
    if not session.is_disputed:
        raise ValidationError(_("This session is not waiting for a decision."))
    if session.is_open:
        raise ValidationError(_("The session is still running: decide once it has ended."))
    if resolution == DisputeResolution.CORRECTED:
        if energy_wh is None or energy_wh < 0:
            raise ValidationError({"energy_wh": _("Give the corrected energy in Wh (0 or more).")})
        if session.energy_wh_reported is None:
            session.energy_wh_reported = session.energy_wh
        session.energy_wh = energy_wh
    elif energy_wh is not None:
        raise ValidationError({"energy_wh": "Only a correction changes the energy."})
    session.dispute_resolution = resolution
    session.dispute_resolved_at = timezone.now()
    session.dispute_resolved_by_id = resolved_by_id
    session.dispute_note = note
    session.save()
    event_record(
        kind=EventKind.SESSION_DISPUTE_RESOLVED,
        payload={
            "charge_point": session.charge_point_id,
            "transaction": session.pk,
            "resolution": str(resolution),
        },
    )
    return session

"""The console's search of sessions (and of what points to them, such as invoices).

Django's default search ORs a substring match over every search field:
on a million sessions that reads every row, and a join more (2.8 s for a
session id, 4.5 s for an invoice number, measured). Operators search for
something they hold in their hand: a session id, an id tag, a charge point
id. Those are matched exactly (ignoring case), each by an index, and the
rest of the table is never read.
"""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from stations.models import ChargePoint, Transaction

SEARCH_HELP = _("A session id, an id tag or a charge point id (exact, any case).")
# More sessions than a page could ever show are not worth a larger IN list.
MATCH_LIMIT = 10_000


def session_search_filter(term: str) -> Q | None:
    """Sessions with this id, id tag or charge point id; None for an empty term."""
    term = term.strip()
    if not term:
        return None
    matches = Q(id_tag__iexact=term)
    charge_points = list(
        ChargePoint.objects.filter(charge_point_id__iexact=term).values_list("pk", flat=True)[:1]
    )
    if charge_points:
        matches |= Q(charge_point_id__in=charge_points)
    if term.isdigit() and int(term) < 2**63:
        matches |= Q(pk=int(term))
    return matches


def session_ids_matching(term: str) -> list[int]:
    """The ids of the sessions a term finds (newest first, bounded), for related tables."""
    matches = session_search_filter(term)
    if matches is None:
        return []
    rows = Transaction.objects.filter(matches).order_by("-start_timestamp", "-id")
    return list(rows.values_list("pk", flat=True)[:MATCH_LIMIT])

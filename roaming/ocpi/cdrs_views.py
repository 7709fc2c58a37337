"""The CDRs and Sessions modules, Sender interface: a partner pulls its drivers' records."""

from __future__ import annotations

from django.db.models import Q

from stations.models import Transaction

from ..cdrs import cdr_queryset
from ..choices import OCPI_VERSION
from ..models import RoamingToken
from ..sessions import session_object
from .base import OcpiView, ocpi_base_url, ok
from .pagination import page_headers, page_params


class CdrListView(OcpiView):
    """GET /ocpi/cpo/2.2.1/cdrs: the calling partner's CDRs, paginated, oldest first.

    date_from/date_to filter on last_updated, as the specification asks.
    """

    def get(self, request):
        page = page_params(request.GET)
        queryset = cdr_queryset(
            party=request.ocpi_party, date_from=page.date_from, date_to=page.date_to
        )
        total = queryset.count()
        data = [
            body
            for body in queryset.values_list("body", flat=True)[
                page.offset : page.offset + page.limit
            ]
        ]
        base_url = f"{ocpi_base_url(request)}/cpo/{OCPI_VERSION}/cdrs"
        return ok(data, headers=page_headers(request, page, total=total, base_url=base_url))


class SessionListView(OcpiView):
    """GET /ocpi/cpo/2.2.1/sessions: the sessions of the calling partner's drivers.

    Paginated, oldest change first; date_from/date_to filter on the time the
    session last changed (start, meter values, stop).
    """

    def get(self, request):
        page = page_params(request.GET)
        queryset = (
            Transaction.objects.filter(tag__roaming_token__partner=request.ocpi_party)
            .select_related("charge_point")
            .order_by("updated_at", "pk")
        )
        window = Q()
        if page.date_from is not None:
            window &= Q(updated_at__gte=page.date_from)
        if page.date_to is not None:
            window &= Q(updated_at__lt=page.date_to)
        queryset = queryset.filter(window)
        total = queryset.count()
        sessions = list(queryset[page.offset : page.offset + page.limit])
        tokens = {
            token.id_tag_id: token
            for token in RoamingToken.objects.filter(id_tag__in=[s.tag_id for s in sessions])
        }
        data = [session_object(session, tokens[session.tag_id]) for session in sessions]
        base_url = f"{ocpi_base_url(request)}/cpo/{OCPI_VERSION}/sessions"
        return ok(data, headers=page_headers(request, page, total=total, base_url=base_url))

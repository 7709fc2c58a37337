"""OCPI pagination: offset, limit, date_from, date_to in; Link, X-Total-Count, X-Limit out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.conf import settings

from ..formats import datetime_parse
from .envelope import INVALID_PARAMETERS, OcpiError


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int
    date_from: datetime | None
    date_to: datetime | None


def page_params(query) -> Page:
    """The paging parameters of a request; 2001 naming the parameter that is wrong."""
    offset = _whole_number(query, "offset", default=0)
    limit = _whole_number(query, "limit", default=settings.OCPI_PAGE_LIMIT)
    dates = {}
    for name in ("date_from", "date_to"):
        text = query.get(name)
        dates[name] = None
        if text:
            dates[name] = datetime_parse(text)
            if dates[name] is None:
                raise OcpiError(
                    400,
                    INVALID_PARAMETERS,
                    f"{name}: give an RFC 3339 date-time, e.g. 2026-01-01T00:00:00Z",
                )
    return Page(
        offset=offset,
        limit=min(limit, settings.OCPI_PAGE_LIMIT),
        date_from=dates["date_from"],
        date_to=dates["date_to"],
    )


def _whole_number(query, name: str, *, default: int) -> int:
    text = query.get(name)
    if text in (None, ""):
        return default
    if not text.isdigit() or len(text) > 9:
        raise OcpiError(400, INVALID_PARAMETERS, f"{name}: give a whole number, 0 or more")
    return int(text)


def page_headers(request, page: Page, *, total: int, base_url: str) -> dict:
    """The headers of one page; Link to the next page unless this is the last."""
    headers = {"X-Total-Count": str(total), "X-Limit": str(page.limit)}
    following = page.offset + page.limit
    if following < total and page.limit > 0:
        query = {key: value for key, value in request.GET.items() if key not in ("offset", "limit")}
        query.update(offset=following, limit=page.limit)
        headers["Link"] = f'<{base_url}?{urlencode(query)}>; rel="next"'
    return headers

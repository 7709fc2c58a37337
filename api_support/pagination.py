"""Pages of the API lists: page numbers (the default) and sync cursors, both fast at any size.

Page numbers, `{"count", "next", "previous", "results"}`, `?page=` and
`?page_size=` (max 500), as always, but built for tables of millions of rows:

- `count` is exact up to API_EXACT_COUNT_LIMIT rows (a filtered list: one
  charge point, one driver, a day) and PostgreSQL's planner estimate beyond
  (monitoring/row_counts.py), marked with the header `X-Count-Estimated: true`.
  An exact `count(*)` of ten million sessions took a second on every page.
- A page reads the keys of its rows first (an index-only scan of the
  ordering's index, however deep the page) and then only its own rows, with
  their annotations and joins: the rows an OFFSET skips are never built.
- `next` is known from one extra key read, not from the count, so it is
  right also when the count is an estimate.

Sync cursors (`?page_mode=cursor`, then the `next` links; views that set
`sync_cursor = True`): the rows in the order of their `updated_at`, then id,
forward only, from an opaque cursor. Rows written in the last
API_SYNC_SAFETY_LAG_SECONDS are held back, so that a write committed late
(its transaction took long) still lands after the position a client saved:
see docs/API.md (Incremental sync) for the guarantee and the loop.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import OrderedDict
from datetime import datetime, timedelta

from django.conf import settings
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db.models import DateTimeField, ExpressionWrapper, Q, Value
from django.db.models.functions import Now
from django.utils.dateparse import parse_datetime
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from monitoring.row_counts import counts_by_estimate, list_count

CURSOR_PARAM = "cursor"
PAGE_MODE_PARAM = "page_mode"
CURSOR_MODE = "cursor"
ESTIMATED_HEADER = "X-Count-Estimated"
SYNC_CURSOR_HEADER = "X-Sync-Cursor"


class ApiPaginator(Paginator):
    """Django's paginator with a bounded count and pages read key-first (see the module)."""

    count_timeout_ms = 100

    def __init__(self, object_list, per_page, orphans=0, allow_empty_first_page=True, **kwargs):
        super().__init__(object_list, per_page, orphans, allow_empty_first_page, **kwargs)
        self.estimated = False

    @cached_property
    def count(self) -> int:
        if not counts_by_estimate(self.object_list):
            return super().count
        counted = list_count(
            self.object_list,
            exact_limit=settings.API_EXACT_COUNT_LIMIT,
            timeout_ms=self.count_timeout_ms,
        )
        self.estimated = counted.estimated
        return counted.value

    def validate_number(self, number):
        if self.count and self.estimated:
            # The estimate may be below the truth: deeper pages are read, and may be empty.
            return _page_number(number)
        return super().validate_number(number)

    def page(self, number):
        number = _page_number(number)
        bottom = (number - 1) * self.per_page
        rows, more = _rows_after(self.object_list, bottom, self.per_page)
        if not more and (rows or number == 1):
            # The list ends on this page: its count is known exactly, without a query.
            self.__dict__["count"] = bottom + len(rows)
        elif not rows:
            self.validate_number(number)  # past the end: EmptyPage (a 404) unless estimated
        return ApiPage(rows, number, self, more=more)


def _page_number(number) -> int:
    try:
        number = int(number)
    except (TypeError, ValueError) as exc:
        raise PageNotAnInteger(_("That page number is not an integer")) from exc
    if number < 1:
        raise EmptyPage(_("That page number is less than 1"))
    return number


class ApiPage(Page):
    def __init__(self, object_list, number, paginator, *, more: bool):
        super().__init__(object_list, number, paginator)
        self.more = more

    def has_next(self):
        return self.more


def _rows_after(queryset, offset: int, limit: int) -> tuple[list, bool]:
    """`limit` rows from `offset` in the queryset's order, and whether more follow."""
    if not counts_by_estimate(queryset) or queryset.query.distinct:
        rows = list(queryset[offset : offset + limit + 1])
        return rows[:limit], len(rows) > limit
    keys = list(queryset.values_list("pk", flat=True)[offset : offset + limit + 1])
    page_keys = keys[:limit]
    by_key = {row.pk: row for row in queryset.order_by().filter(pk__in=page_keys)}
    return [by_key[key] for key in page_keys if key in by_key], len(keys) > limit


class ApiPagination(PageNumberPagination):
    """`{"count", "next", "previous", "results"}`; `?page=` and `?page_size=` (max 500);
    `?page_mode=cursor` on the lists that sync (see the module).

    A `page_size` that is not a whole number of at least 1 is a 400 naming
    it (not silently the default); one above the maximum gets the maximum.
    """

    django_paginator_class = ApiPaginator
    page_size_query_param = "page_size"
    max_page_size = 500
    cursor_page = None

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw not in (None, ""):
            try:
                valid = int(raw) >= 1
            except ValueError:
                valid = False
            if not valid:
                raise ValidationError(
                    {
                        self.page_size_query_param: [
                            _("A whole number from 1 to %(max)d.") % {"max": self.max_page_size}
                        ]
                    }
                )
        return super().get_page_size(request)

    def paginate_queryset(self, queryset, request, view=None):
        if _cursor_mode(request, view):
            self.request = request
            self.cursor_page = SyncCursorPage.read(
                queryset, request, page_size=self.get_page_size(request)
            )
            return self.cursor_page.rows
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        if self.cursor_page is not None:
            page = self.cursor_page
            response = Response(
                OrderedDict(
                    [
                        ("count", None),
                        ("next", page.link(self.request) if page.more else None),
                        ("previous", None),
                        ("results", data),
                    ]
                )
            )
            response[SYNC_CURSOR_HEADER] = page.resume_cursor
            return response
        response = super().get_paginated_response(data)
        if getattr(self.page.paginator, "estimated", False):
            response[ESTIMATED_HEADER] = "true"
        return response

    def get_paginated_response_schema(self, schema):
        answer = super().get_paginated_response_schema(schema)
        answer["properties"]["count"]["nullable"] = True
        answer["properties"]["count"]["description"] = (
            "Exact up to API_EXACT_COUNT_LIMIT rows, PostgreSQL's estimate above "
            "(header X-Count-Estimated: true); null in cursor mode."
        )
        return answer

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        if getattr(view, "sync_cursor", False):
            parameters += [
                {
                    "name": PAGE_MODE_PARAM,
                    "required": False,
                    "in": "query",
                    "description": str(
                        _(
                            "`cursor`: pages in the order of `updated_at`, then id, for "
                            "incremental sync; follow `next`, keep the X-Sync-Cursor header."
                        )
                    ),
                    "schema": {"type": "string", "enum": [CURSOR_MODE]},
                },
                {
                    "name": CURSOR_PARAM,
                    "required": False,
                    "in": "query",
                    "description": str(_("An opaque position from `next` or X-Sync-Cursor.")),
                    "schema": {"type": "string"},
                },
            ]
        return parameters


def _cursor_mode(request, view) -> bool:
    params = request.query_params
    wanted = CURSOR_PARAM in params or params.get(PAGE_MODE_PARAM) == CURSOR_MODE
    mode = params.get(PAGE_MODE_PARAM)
    if mode not in (None, "", CURSOR_MODE, "page"):
        raise ValidationError({PAGE_MODE_PARAM: [_("Give page or cursor.")]})
    if not wanted:
        return False
    if not getattr(view, "sync_cursor", False):
        raise ValidationError({PAGE_MODE_PARAM: [_("This list has no cursor pages.")]})
    if params.get("ordering"):
        raise ValidationError(
            {"ordering": [_("Cursor pages are always in the order of updated_at, then id.")]}
        )
    if "page" in params:
        raise ValidationError({"page": [_("Give either page or cursor, not both.")]})
    return True


class SyncCursorPage:
    """One page of a sync walk: rows after a position in (updated_at, id) order."""

    def __init__(self, rows: list, position: tuple[datetime, int] | None, *, more: bool):
        self.rows = rows
        self.more = more
        last = rows[-1] if rows else None
        self.position = (last.updated_at, last.pk) if last is not None else position

    @classmethod
    def read(cls, queryset, request, *, page_size: int) -> SyncCursorPage:
        position = decode_cursor(request.query_params.get(CURSOR_PARAM))
        lag = timedelta(seconds=settings.API_SYNC_SAFETY_LAG_SECONDS)
        # The database's clock: the one that stamps updated_at (a trigger on PostgreSQL).
        settled = ExpressionWrapper(Now() - Value(lag), output_field=DateTimeField())
        rows = queryset.filter(updated_at__lt=settled)
        if position is not None:
            stamp, key = position
            rows = rows.filter(
                Q(updated_at__gte=stamp),  # where the index scan starts
                Q(updated_at__gt=stamp) | Q(updated_at=stamp, pk__gt=key),
            )
        rows = list(rows.order_by("updated_at", "pk")[: page_size + 1])
        return cls(rows[:page_size], position, more=len(rows) > page_size)

    @property
    def resume_cursor(self) -> str:
        return encode_cursor(self.position)

    def link(self, request) -> str:
        url = remove_query_param(request.build_absolute_uri(), PAGE_MODE_PARAM)
        return replace_query_param(url, CURSOR_PARAM, self.resume_cursor)


def encode_cursor(position: tuple[datetime, int] | None) -> str:
    """An opaque position; the start of the list when None."""
    value = {} if position is None else {"u": position[0].isoformat(), "i": position[1]}
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def decode_cursor(raw: str | None) -> tuple[datetime, int] | None:
    """The position of a cursor; a 400 naming `cursor` for anything this API did not give."""
    if raw in (None, ""):
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if value == {}:
            return None
        stamp = parse_datetime(value["u"])
        key = int(value["i"])
        if stamp is None or stamp.tzinfo is None:
            raise ValueError(raw)
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValidationError({CURSOR_PARAM: [_("Not a cursor this API gave.")]}) from exc
    return stamp, key

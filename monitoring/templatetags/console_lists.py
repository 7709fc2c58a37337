"""Date navigation of console lists that does not read the whole table.

Django's date hierarchy lists the years, months or days that hold rows with
`SELECT DISTINCT` over every row of the list: seconds on a journal of 10^8
rows. For a ModelAdmin with `date_hierarchy_bounded` (LargeTableAdminMixin),
`console_date_hierarchy` reads the first and the last row of the list (two
index probes) and offers every year, month or day between them; a day may
then hold no row of a filtered list. Other admins keep Django's navigation.
"""

from __future__ import annotations

import datetime

from django import template
from django.contrib.admin.templatetags.admin_list import date_hierarchy
from django.contrib.admin.utils import get_fields_from_path
from django.db import models
from django.utils import formats, timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from monitoring.admin_paginator import within_time

register = template.Library()
SPAN_TIMEOUT_MS = 50  # the bounds of a list: worth a few index probes, not a scan


@register.inclusion_tag("admin/date_hierarchy.html")
def console_date_hierarchy(cl):
    if not getattr(cl.model_admin, "date_hierarchy_bounded", False):
        return date_hierarchy(cl)
    return bounded_date_hierarchy(cl)


def bounded_date_hierarchy(cl) -> dict | None:
    """The context of admin/date_hierarchy.html, from the list's first and last date."""
    if not cl.date_hierarchy:
        return None
    field_name = cl.date_hierarchy
    field = get_fields_from_path(cl.model, field_name)[-1]
    year_field, month_field, day_field = (
        f"{field_name}__year",
        f"{field_name}__month",
        f"{field_name}__day",
    )
    year, month, day = (cl.params.get(name) for name in (year_field, month_field, day_field))

    def link(filters):
        return cl.get_query_string(filters, [f"{field_name}__"])

    if year and month and day:
        when = datetime.date(int(year), int(month), int(day))
        return {
            "show": True,
            "back": {
                "link": link({year_field: year, month_field: month}),
                "title": capfirst(formats.date_format(when, "YEAR_MONTH_FORMAT")),
            },
            "choices": [{"title": capfirst(formats.date_format(when, "MONTH_DAY_FORMAT"))}],
        }
    first, last = _span(cl, field_name, isinstance(field, models.DateTimeField), year, month)
    if not (year or month) and first is not None and first.year == last.year:
        year = first.year  # one year only: start at its months (as Django does)
        if first.month == last.month:
            month = first.month
    if year and month:
        back = {"link": link({year_field: year}), "title": str(year)}
        days = _days(first, last) if first else []
        return {
            "show": True,
            "back": back,
            "choices": [
                {
                    "link": link({year_field: year, month_field: month, day_field: d.day}),
                    "title": capfirst(formats.date_format(d, "MONTH_DAY_FORMAT")),
                }
                for d in days
            ],
        }
    if year:
        months = _months(first, last) if first else []
        return {
            "show": True,
            "back": {"link": link({}), "title": _("All dates")},
            "choices": [
                {
                    "link": link({year_field: year, month_field: m.month}),
                    "title": capfirst(formats.date_format(m, "YEAR_MONTH_FORMAT")),
                }
                for m in months
            ],
        }
    years = range(first.year, last.year + 1) if first else []
    return {
        "show": True,
        "back": None,
        "choices": [{"link": link({year_field: str(y)}), "title": str(y)} for y in years],
    }


def _span(cl, field_name: str, aware: bool, year, month):
    """The first and last date of the list (already narrowed to the chosen year or month).

    Two index probes when an index leads with the date, or with a filtered
    column and the date. A filter the planner serves badly (the newest rows
    of a rare status, searched from the oldest end) may read far more: after
    SPAN_TIMEOUT_MS the whole table's bounds stand in, kept to the chosen period.
    """
    bounds = {"first": models.Min(field_name), "last": models.Max(field_name)}
    span = within_time(
        lambda: cl.queryset.aggregate(**bounds), using=cl.queryset.db, timeout_ms=SPAN_TIMEOUT_MS
    )
    clamp = span is None
    if clamp:
        span = cl.root_queryset.aggregate(**bounds)
    first, last = span["first"], span["last"]
    if first is None:
        return None, None
    if aware:
        first, last = (timezone.localtime(v) if timezone.is_aware(v) else v for v in (first, last))
    if isinstance(first, datetime.datetime):
        first, last = first.date(), last.date()
    if clamp and year:
        start = datetime.date(int(year), int(month or 1), 1)
        if month:
            end = (start + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1)
        else:
            end = datetime.date(int(year), 12, 31)
        first, last = max(first, start), min(last, end)
        if first > last:
            return None, None
    return first, last


def _days(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    return [first + datetime.timedelta(days=n) for n in range((last - first).days + 1)]


def _months(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    months, current = [], first.replace(day=1)
    while current <= last:
        months.append(current)
        current = (current + datetime.timedelta(days=32)).replace(day=1)
    return months

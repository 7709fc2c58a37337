"""Console lists of very large tables: counted without reading them, paged without deep offsets.

Django's change list counts its rows exactly, twice (the filtered list and
the whole table): on PostgreSQL `count(*)` reads every row, so a journal of
100 million rows takes seconds per page. EstimatedCountPaginator counts
exactly only what is small:

- up to `exact_limit` rows (a filtered list: one charge point's day, the
  errors of a week) it counts them, reading at most that many;
- beyond, it takes the planner's estimate (pg_class.reltuples for the whole
  table, the EXPLAIN row estimate for a filtered list), shown as "about N";
- the bounded count gives up after `count_timeout_ms` (a filter no index
  serves) and the estimate stands in.

Pages then go `max_pages` deep at most: OFFSET reads every row it skips, so
page 10,000 of a journal is a scan, and an estimated count may not even have
a last page. Older rows are one filter away (date, charge point), which is
how operators look for them anyway.

Elsewhere (SQLite) it is Django's paginator: small installations count fast.
LargeTableAdminMixin gathers what a console list of such a table sets.
Imports nothing but Django, as admin_base.
"""

from __future__ import annotations

import enum
import math

from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters, ShowFacets
from django.core.paginator import Paginator
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext as _

from .row_counts import counts_by_estimate, list_count, within_time

__all__ = ["EstimatedCountPaginator", "LargeTableAdminMixin", "within_time"]


class EstimatedCountPaginator(Paginator):
    """A paginator that never counts a large list row by row (PostgreSQL)."""

    exact_limit = 10_000  # rows counted exactly, at most
    count_timeout_ms = 150  # a bounded count slower than this falls back to the estimate
    max_pages = 200  # the deepest page offered when the count is estimated

    def __init__(self, object_list, per_page, orphans=0, allow_empty_first_page=True, **kwargs):
        super().__init__(object_list, per_page, orphans, allow_empty_first_page, **kwargs)
        self.estimated = False

    @cached_property
    def count(self) -> int:
        if not counts_by_estimate(self.object_list):
            return super().count
        counted = list_count(
            self.object_list, exact_limit=self.exact_limit, timeout_ms=self.count_timeout_ms
        )
        self.estimated = counted.estimated
        return counted.value

    @cached_property
    def num_pages(self) -> int:
        pages = super().num_pages
        if self.count and self.estimated:
            # Also when the estimate is above the truth: a page past the end is refused.
            return min(pages, self.max_pages)
        return pages

    @property
    def capped(self) -> bool:
        """True when older rows lie beyond the last page offered."""
        return self.estimated and math.ceil(self.count / self.per_page) > self.max_pages


def choices_filter(field_name: str, choices, *, title) -> type[admin.SimpleListFilter]:
    """A list filter on `field_name` offering `choices` instead of Django's SELECT DISTINCT
    over the whole table: values, (value, label) pairs, enumerations (every member's value,
    duplicates once, sorted), or a callable returning them.

    For columns whose values are known in advance (OCPP vocabularies, the
    currencies of the tariffs):
    `list_filter = (choices_filter("measurand", MEASURANDS, title=_("measurand")),)`.
    """

    def lookups(self, request, model_admin):
        return _lookups(choices() if callable(choices) else choices)

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(**{field_name: value}) if value else queryset

    return type(
        f"{field_name.title().replace('_', '')}ChoicesFilter",
        (admin.SimpleListFilter,),
        {
            "title": title,
            "parameter_name": field_name,
            "lookups": lookups,
            "queryset": queryset,
        },
    )


def related_key_filter(field_name: str, *, title) -> type[admin.SimpleListFilter]:
    """A filter on a related row (`<field>__id__exact`, the parameter of Django's related
    filter, so existing links keep working) that lists only the chosen row.

    Django's related filter loads and lists every row of the related table: 10,000
    charge points in the sidebar of every session list. This one offers the
    filter where a link sets it (a charge point's page links to its sessions)
    and shows what is chosen, with "All" to clear it.
    """
    parameter = f"{field_name}__id__exact"

    def lookups(self, request, model_admin):
        value = self.value()
        if not value:
            return []
        if not value.isdigit():
            raise IncorrectLookupParameters(f"{parameter} must be a number")
        related = model_admin.model._meta.get_field(field_name).related_model
        chosen = related._default_manager.filter(pk=int(value)).first()
        return [(value, str(chosen) if chosen is not None else value)]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(**{parameter: int(value)}) if value else queryset

    return type(
        f"{field_name.title().replace('_', '')}KeyFilter",
        (admin.SimpleListFilter,),
        {"title": title, "parameter_name": parameter, "lookups": lookups, "queryset": queryset},
    )


def _lookups(items) -> list[tuple]:
    pairs, values = [], set()
    for item in items:
        if isinstance(item, type) and issubclass(item, enum.Enum):
            values.update(member.value for member in item)
        elif isinstance(item, tuple):
            pairs.append(item)
        else:
            values.add(item)
    return pairs + [(value, value) for value in sorted(values)]


class LargeTableAdminMixin:
    """Mix into the ModelAdmin of a table of millions of rows (journal, sessions, invoices).

    Estimated counts and bounded pages (above), no second count of the whole
    table, no per-filter counts (facets: one count per choice), and a date
    navigation that reads the first and last row instead of every distinct
    day (monitoring/templatetags/console_lists.py). Ordering on a column no
    index serves sorts the whole table: set `sortable_by` to the indexed ones.
    """

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    date_hierarchy_bounded = True

    def action_checkbox(self, obj):
        """Django's row checkbox, written directly: rendering its widget template for each
        of 100 rows took a sixth of the journal page."""
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            obj.pk,
            format_html(_("Select this object for an action - {}"), str(obj)),
        )

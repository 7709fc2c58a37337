"""Console pages of the message journal: every frame sent and received, read-only.

The journal is the largest table of the system (a 1,000-charger network
writes millions of rows a day and keeps OCPP_JOURNAL_RETENTION_DAYS), so
every part of its list is built not to read it whole: the count is bounded
or estimated and the pages stop at a depth (LargeTableAdminMixin), the
action filter offers the OCPP actions instead of `SELECT DISTINCT` over the
table, only the time may be sorted on (the index order), the search looks a
charge point up first and then uses its index, and the date navigation
reads the first and last row. Each list shape has its index
(JournalEntry.Meta.indexes).
"""

from __future__ import annotations

import json

from django.contrib import admin
from django.db.models import Q
from django.db.models.functions import Lower
from django.http import StreamingHttpResponse
from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import gettext_lazy as _
from ocpp.v16.enums import Action as Action16
from ocpp.v201.enums import Action as Action201

from monitoring.admin_base import ReadOnlyAdminMixin
from monitoring.admin_paginator import LargeTableAdminMixin, related_key_filter
from stations.models import ChargePoint

from .models import JournalEntry

# Every action of both versions: what the journal can hold (a frame that did not
# parse has none). A fixed list costs no query, unlike the distinct values.
KNOWN_ACTIONS = tuple(sorted({a.value for a in Action16} | {a.value for a in Action201}))


class ActionFilter(admin.SimpleListFilter):
    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return [(action, action) for action in KNOWN_ACTIONS]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(action=value) if value else queryset


def _journal_lines(queryset):
    # Streamed in key order with a join (the list's page-wise prefetch does not stream).
    rows = queryset.prefetch_related(None).select_related("charge_point")
    rows = rows.order_by("timestamp", "id")
    for entry in rows.iterator(chunk_size=2000):
        yield (
            json.dumps(
                {
                    "charge_point_id": entry.charge_point.charge_point_id,
                    "timestamp": entry.timestamp.isoformat(),
                    "direction": entry.direction,
                    "message_type": entry.message_type,
                    "unique_id": entry.unique_id,
                    "action": entry.action,
                    "payload": entry.payload,
                    "error_code": entry.error_code,
                    "raw": entry.raw,
                }
            )
            + "\n"
        )


@admin.action(description=_("Export as JSON lines"))
def export_json_lines(modeladmin, request, queryset):
    response = StreamingHttpResponse(_journal_lines(queryset), content_type="application/jsonl")
    response["Content-Disposition"] = 'attachment; filename="ocpp-journal.jsonl"'
    return response


@admin.register(JournalEntry)
class JournalEntryAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "timestamp",
        "charge_point",
        "direction",
        "message_type",
        "action",
        "unique_id",
        "error_code",
    )
    # Direction and message type have choices: their filters run no query either. The
    # charge point is set by the link on its page (one row looked up, not a list of all).
    list_filter = (
        "direction",
        "message_type",
        ActionFilter,
        related_key_filter("charge_point", title=_("charge point")),
    )
    # Not a join: OFFSET would join every row it skips (page 200: 20,000 lookups).
    # The page's charge points are fetched at once (get_queryset).
    list_select_related = ()
    # Exact charge point id (any case) or exact message id; see get_search_results.
    search_fields = ("=charge_point__charge_point_id", "=unique_id")
    search_help_text = _("A charge point id, or the id of a message (its CALL and answer).")
    date_hierarchy = "timestamp"
    # Sorting on another column would sort every row of the table.
    sortable_by = ("timestamp",)
    actions = [export_json_lines]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("charge_point")

    def get_search_results(self, request, queryset, search_term):
        """Each word is a charge point id or a message id; all must match.

        Django's search would compare UPPER(...) of both columns, which no
        index serves. Here the charge point is found first (its
        case-insensitive unique index) and the journal filtered by its key,
        and a message id is compared exactly (OCPP ids are case-sensitive):
        both are index lookups on the journal.
        """
        for word in smart_split(search_term):
            if word.startswith(('"', "'")) and len(word) > 1 and word[0] == word[-1]:
                word = unescape_string_literal(word)
            charge_points = list(
                ChargePoint.objects.alias(lower_id=Lower("charge_point_id"))
                .filter(lower_id=word.lower())
                .values_list("pk", flat=True)
            )
            condition = Q(unique_id=word)
            if charge_points:
                condition |= Q(charge_point__in=charge_points)
                if not JournalEntry.objects.filter(unique_id=word).exists():
                    condition = Q(charge_point__in=charge_points)
            queryset = queryset.filter(condition)
        return queryset, False

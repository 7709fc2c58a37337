"""Console pages of the message journal: every frame sent and received, read-only."""

from __future__ import annotations

import json

from django.contrib import admin
from django.http import StreamingHttpResponse
from django.utils.translation import gettext_lazy as _

from .admin import HistoryAdmin
from .models import JournalEntry


def _journal_lines(queryset):
    for entry in queryset.select_related("charge_point").order_by("timestamp", "id").iterator():
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
class JournalEntryAdmin(HistoryAdmin):
    list_display = (
        "timestamp",
        "charge_point",
        "direction",
        "message_type",
        "action",
        "unique_id",
        "error_code",
    )
    list_filter = ("direction", "message_type", "action")
    list_select_related = ("charge_point",)
    search_fields = ("=charge_point__charge_point_id", "=unique_id")
    date_hierarchy = "timestamp"
    actions = [export_json_lines]

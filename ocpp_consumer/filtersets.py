"""Query filters of the commands and message journal API (django-filter)."""

from __future__ import annotations

import django_filters as filters
from django.utils.translation import gettext_lazy as _

from .models import Command, CommandStatus, Direction, JournalEntry, MessageType


class CommandFilterSet(filters.FilterSet):
    status = filters.ChoiceFilter(choices=CommandStatus.choices)
    action = filters.CharFilter(help_text=_("OCPP action, e.g. RemoteStartTransaction"))
    source = filters.CharFilter()
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Command
        fields: list[str] = []


class JournalEntryFilterSet(filters.FilterSet):
    charge_point = filters.CharFilter(
        field_name="charge_point__charge_point_id", label=_("charge point id")
    )
    direction = filters.ChoiceFilter(choices=Direction.choices)
    action = filters.CharFilter()
    message_type = filters.TypedChoiceFilter(
        choices=[(2, "CALL"), (3, "CALLRESULT"), (4, "CALLERROR")], coerce=int
    )
    unique_id = filters.CharFilter()
    error_code = filters.CharFilter(method="filter_error_code")
    after = filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    before = filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="lt")

    class Meta:
        model = JournalEntry
        fields: list[str] = []

    def filter_error_code(self, queryset, name, value):
        # Only CALLERRORs carry an error code; saying so lets their small partial index
        # (journal_errors_time_idx) serve a rare code instead of a walk through the journal.
        if not value:
            return queryset
        return queryset.filter(message_type=MessageType.CALLERROR, error_code=value)

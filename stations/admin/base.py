"""Shared pieces of the stations console."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

PASSWORD_MIN_LENGTH = 16
PASSWORD_MAX_LENGTH = 40
METER_VALUE_INLINE_LIMIT = 50


def _all_fields(model) -> tuple[str, ...]:
    return tuple(field.name for field in model._meta.concrete_fields)


def _changelist_link(model_label: str, query: str, text) -> str:
    url = reverse(f"admin:{model_label}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, query, text)


class HistoryAdmin(admin.ModelAdmin):
    """Show what a charge point reported; nobody adds, edits or deletes it."""

    def get_readonly_fields(self, request, obj=None):
        return _all_fields(self.model) + tuple(self.readonly_fields)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline:
    """Mix into an inline to list related rows without editing them."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

"""Shared pieces of the stations console."""

from django.urls import reverse
from django.utils.html import format_html

METER_VALUE_INLINE_LIMIT = 50


def _changelist_link(model_label: str, query: str, text) -> str:
    url = reverse(f"admin:{model_label}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, query, text)

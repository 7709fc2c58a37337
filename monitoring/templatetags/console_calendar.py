"""Template filters for dates Django prints outside its date formats."""

from django import template
from django.conf import settings

from ..calendars import calendar_year

register = template.Library()


@register.filter
def console_year(title):
    """A bare year ("2024", a date hierarchy link) in CONSOLE_CALENDAR; anything else as is."""
    text = str(title)
    if not (text.isascii() and text.isdigit()):
        return title
    return str(calendar_year(int(text), settings.CONSOLE_CALENDAR))

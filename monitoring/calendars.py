"""One calendar for every date the console shows (CONSOLE_CALENDAR).

Browsers format Thai dates in the Buddhist era by default (`Intl` with
"th"), Django in the Gregorian one (its "th" formats print the year as is):
the dashboard said 2567 where the lists said 2024. The setting picks one
convention for both sides:

- the pages' scripts read it from `<body data-calendar>` (base_site.html) and
  pass it to `Intl.DateTimeFormat` as its `calendar` ("gregory" or "buddhist");
- Django's date formatting (lists, forms, the `date` filter) prints years in
  that era: for "buddhist", the year letters of Django's date formats ("Y",
  "y") add 543. Django has no calendar hook, so `calendar_apply` sets these two
  methods of its DateFormat; days and months are the same in both calendars.
  The few years Django prints as plain numbers (the year links of a list's
  date hierarchy) go through `calendar_year` (templates/admin/date_hierarchy.html).

Only display changes: stored values, the API (ISO 8601), date inputs (which
keep Gregorian years so that what is typed is what is stored), invoices and
invoice numbers stay Gregorian.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.utils.dateformat import DateFormat

# CONSOLE_CALENDAR value -> the calendar's name for Intl (Unicode CLDR).
CALENDARS = {"gregorian": "gregory", "buddhist": "buddhist"}
BUDDHIST_ERA_OFFSET = 543

_GREGORIAN_METHODS = {"Y": DateFormat.Y, "y": DateFormat.y}


def _buddhist_year(self) -> str:
    return f"{self.data.year + BUDDHIST_ERA_OFFSET:04d}"


def _buddhist_short_year(self) -> str:
    return f"{(self.data.year + BUDDHIST_ERA_OFFSET) % 100:02d}"


_BUDDHIST_METHODS = {"Y": _buddhist_year, "y": _buddhist_short_year}


def calendar_validate(name: str) -> str:
    if name not in CALENDARS:
        raise ImproperlyConfigured(
            f"CONSOLE_CALENDAR must be one of {', '.join(CALENDARS)}, not {name!r}"
        )
    return name


def intl_calendar(name: str) -> str:
    """The `Intl` calendar identifier of a CONSOLE_CALENDAR value."""
    return CALENDARS[calendar_validate(name)]


def calendar_year(year: int, name: str) -> int:
    """A Gregorian year as this calendar numbers it."""
    return year + BUDDHIST_ERA_OFFSET if calendar_validate(name) == "buddhist" else year


def calendar_apply(name: str) -> None:
    """Make Django's date formatting print years in this calendar's era."""
    methods = _BUDDHIST_METHODS if calendar_validate(name) == "buddhist" else _GREGORIAN_METHODS
    for letter, method in methods.items():
        setattr(DateFormat, letter, method)

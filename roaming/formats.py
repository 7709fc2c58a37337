"""OCPI value formats: DateTime and money."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from django.utils.dateparse import parse_datetime


def ocpi_datetime(moment: datetime | None) -> str | None:
    """UTC, RFC 3339 with "Z", milliseconds (OCPI DateTime, at most 25 characters)."""
    if moment is None:
        return None
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return text[:-3] + "Z"


def datetime_parse(text: str) -> datetime | None:
    """An OCPI DateTime; without a zone it is UTC. None when it is not one."""
    try:
        moment = parse_datetime(text)
    except ValueError:
        return None
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def number(value: Decimal | None) -> float | None:
    """A decimal as a JSON number (OCPI prices are numbers, not strings)."""
    return None if value is None else float(value)

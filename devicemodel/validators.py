"""Whether a value fits a variable's characteristics (OCPP 2.0.1 VariableCharacteristicsType).

One rule for the console and the API: a value the charger would refuse is
refused before a SetVariables is sent. Without reported characteristics
(data type blank) any value passes: the charger decides.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.utils.dateparse import parse_datetime

_INTEGER = re.compile(r"^[+-]?\d+$")
_BOOLEANS = ("true", "false")
_LISTS = ("OptionList", "SequenceList", "MemberList")


def _allowed(values_list: str) -> list[str]:
    return [item.strip() for item in values_list.split(",") if item.strip()]


def _number_problems(
    number: Decimal, min_limit: float | None, max_limit: float | None
) -> list[str]:
    problems = []
    if min_limit is not None and number < Decimal(str(min_limit)):
        problems.append(f"must be at least {min_limit:g}")
    if max_limit is not None and number > Decimal(str(max_limit)):
        problems.append(f"must be at most {max_limit:g}")
    return problems


def _length_problems(value: str, min_limit: float | None, max_limit: float | None) -> list[str]:
    """For strings and lists the limits bound the length of the (comma-separated) text."""
    problems = []
    if min_limit is not None and len(value) < min_limit:
        problems.append(f"must be at least {min_limit:g} characters long")
    if max_limit is not None and len(value) > max_limit:
        problems.append(f"must be at most {max_limit:g} characters long")
    return problems


def _list_problems(data_type: str, value: str, values_list: str) -> list[str]:
    allowed = _allowed(values_list)
    if data_type == "OptionList":
        chosen = [value.strip()]
    else:
        chosen = [item.strip() for item in value.split(",")]
    if not allowed:
        return []
    unknown = [item for item in chosen if item not in allowed]
    if unknown:
        return [f"{', '.join(repr(u) for u in unknown)} not among {', '.join(allowed)}"]
    if data_type == "MemberList" and len(set(chosen)) != len(chosen):
        return ["lists a member twice"]
    return []


def variable_value_problems(
    *,
    value: str,
    data_type: str,
    min_limit: float | None = None,
    max_limit: float | None = None,
    values_list: str = "",
) -> list[str]:
    """What is wrong with `value` for a variable of these characteristics (empty: nothing)."""
    if data_type == "integer":
        if not _INTEGER.match(value.strip()):
            return ["must be a whole number"]
        return _number_problems(Decimal(value.strip()), min_limit, max_limit)
    if data_type == "decimal":
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return ["must be a decimal number"]
        if not number.is_finite():
            return ["must be a decimal number"]
        return _number_problems(number, min_limit, max_limit)
    if data_type == "boolean":
        return [] if value in _BOOLEANS else ["must be true or false"]
    if data_type == "dateTime":
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        return [] if parsed is not None else ["must be a date and time (ISO 8601)"]
    if data_type in _LISTS:
        return _length_problems(value, min_limit, max_limit) + _list_problems(
            data_type, value, values_list
        )
    if data_type == "string":
        return _length_problems(value, min_limit, max_limit)
    return []

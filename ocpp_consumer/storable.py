"""Text a database can store: no NUL, no lone surrogate.

A JSON string may carry "\\u0000" or a lone "\\ud800" (legal JSON, and the
OCPP schemas do not forbid them), and Python decodes both into a str. But
PostgreSQL refuses NUL in text and jsonb, and no database driver can encode
a lone surrogate as UTF-8: one such frame would make the database refuse a
whole batch of writes. These helpers replace exactly those characters and
return the very same object when there is nothing to replace, so that a
caller can tell (`is`) whether anything changed.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def escaped(char_match: re.Match) -> str:
    """The character as the JSON escape it came as ("\\u0000"): for the journal."""
    return f"\\u{ord(char_match.group()):04x}"


def replaced(char_match: re.Match) -> str:
    """U+FFFD: keeps the length (column limits) and never equals a real id tag."""
    return "\ufffd"


Replacement = Callable[[re.Match], str]


def storable_text(text: str, replacement: Replacement = escaped) -> str:
    """`text` without NUL and lone surrogates; `text` itself when it has none."""
    if text.isascii() and "\x00" not in text:
        return text
    if _UNSTORABLE.search(text) is None:
        return text
    return _UNSTORABLE.sub(replacement, text)


def storable(value: Any, replacement: Replacement = escaped) -> Any:
    """`value` with every string in it storable (dict keys, lists, tuples, dataclasses).

    Returns `value` itself when nothing had to change.
    """
    if isinstance(value, str):
        return storable_text(value, replacement)
    if isinstance(value, dict):
        items = [(storable(k, replacement), storable(v, replacement)) for k, v in value.items()]
        if all(k is ok and v is ov for (k, v), (ok, ov) in zip(items, value.items(), strict=True)):
            return value
        return dict(items)
    if isinstance(value, list | tuple):
        cleaned = [storable(item, replacement) for item in value]
        if all(new is old for new, old in zip(cleaned, value, strict=True)):
            return value
        return type(value)(cleaned) if isinstance(value, list) else tuple(cleaned)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for field in dataclasses.fields(value):
            old = getattr(value, field.name)
            new = storable(old, replacement)
            if new is not old:
                changes[field.name] = new
        return dataclasses.replace(value, **changes) if changes else value
    return value


def json_text_needs_cleaning(text: str) -> bool:
    """True when json.dumps output (ASCII) may hold an escaped NUL or surrogate.

    A cheap pre-check: false positives (a valid surrogate pair, a literal
    backslash before "u0000") only cost a walk that changes nothing.
    """
    return "\\u0000" in text or "\\ud" in text

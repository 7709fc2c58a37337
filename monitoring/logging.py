"""Structured logs: which charge point and which OCPP message a log line is about.

The consumer binds its charge point id once per socket and the uniqueId of
each frame (`bind_charge_point`, `bind_message`); both are context
variables, so they follow the consumer's task, the ORM threads it calls
(asgiref copies the context) and the tasks it starts, without passing a
logger around. `OcppContextFilter` (on the handler) puts them on every
record; `JsonFormatter` (LOG_FORMAT=json) writes one JSON object per line,
`PlainFormatter` appends them to the classic line when set.

What a stranger sends (an id, a path, a header) must not forge log lines:
the filter escapes control characters (CR, LF, NUL, ESC, NEL, the Unicode
line separators ...) in every string argument and in the bound context, so
one record stays one line whatever the values; a traceback, which is not an
argument, keeps its lines.

Imported by the LOGGING setting: no Django models here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

charge_point_id_var: ContextVar[str | None] = ContextVar("ocpp_charge_point_id", default=None)
message_id_var: ContextVar[str | None] = ContextVar("ocpp_message_id", default=None)

CONTEXT_FIELDS = ("charge_point_id", "message_id")

# C0 and C1 controls, DEL, and the separators some viewers break lines at.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_control(value: object) -> str:
    """The value as text with control characters as Python escapes ("\\r", "\\x1b")."""
    text = value if isinstance(value, str) else str(value)
    return _CONTROL_CHARACTERS.sub(
        lambda match: match.group().encode("unicode_escape").decode("ascii"), text
    )


def _escaped(value):
    # Exceptions too: their text often quotes what a stranger sent.
    return escape_control(value) if isinstance(value, str | BaseException) else value


def bind_charge_point(charge_point_id: str | None) -> None:
    """Tag the log lines of this task (and what it calls) with the charge point."""
    charge_point_id_var.set(charge_point_id)
    message_id_var.set(None)


def bind_message(unique_id) -> None:
    """Tag the following log lines with the uniqueId of the frame being handled."""
    message_id_var.set(None if unique_id is None else str(unique_id)[:64])


class OcppContextFilter(logging.Filter):
    """Add `charge_point_id` and `message_id` to every record (None outside OCPP).

    Also escapes control characters in string arguments and in these fields
    (see the module docstring): no value can start a new log line.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "charge_point_id", None) is None:
            record.charge_point_id = charge_point_id_var.get()
        if getattr(record, "message_id", None) is None:
            record.message_id = message_id_var.get()
        record.charge_point_id = _escaped(record.charge_point_id)
        record.message_id = _escaped(record.message_id)
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(_escaped(arg) for arg in args)
        elif isinstance(args, Mapping):
            record.args = {key: _escaped(arg) for key, arg in args.items()}
        return True


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, context."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("fmt", ["levelname", "name", "message", "charge_point_id", "message_id"])
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__(*args, **kwargs)


class PlainFormatter(logging.Formatter):
    """The classic line, plus "[cp=... msg=...]" when a charge point is bound."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        charge_point_id = getattr(record, "charge_point_id", None)
        if charge_point_id is None:
            return line
        message_id = getattr(record, "message_id", None)
        context = f"cp={charge_point_id}" + (f" msg={message_id}" if message_id else "")
        head, sep, tail = line.partition("\n")  # keep a traceback below the line
        return f"{head} [{context}]{sep}{tail}"

"""Structured logs: which charge point and which OCPP message a log line is about.

The consumer binds its charge point id once per socket and the uniqueId of
each frame (`bind_charge_point`, `bind_message`); both are context
variables, so they follow the consumer's task, the ORM threads it calls
(asgiref copies the context) and the tasks it starts, without passing a
logger around. `OcppContextFilter` (on the handler) puts them on every
record; `JsonFormatter` (LOG_FORMAT=json) writes one JSON object per line,
`PlainFormatter` appends them to the classic line when set.

Imported by the LOGGING setting: no Django models here.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

charge_point_id_var: ContextVar[str | None] = ContextVar("ocpp_charge_point_id", default=None)
message_id_var: ContextVar[str | None] = ContextVar("ocpp_message_id", default=None)

CONTEXT_FIELDS = ("charge_point_id", "message_id")


def bind_charge_point(charge_point_id: str | None) -> None:
    """Tag the log lines of this task (and what it calls) with the charge point."""
    charge_point_id_var.set(charge_point_id)
    message_id_var.set(None)


def bind_message(unique_id) -> None:
    """Tag the following log lines with the uniqueId of the frame being handled."""
    message_id_var.set(None if unique_id is None else str(unique_id)[:64])


class OcppContextFilter(logging.Filter):
    """Add `charge_point_id` and `message_id` to every record (None outside OCPP)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "charge_point_id", None) is None:
            record.charge_point_id = charge_point_id_var.get()
        if getattr(record, "message_id", None) is None:
            record.message_id = message_id_var.get()
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

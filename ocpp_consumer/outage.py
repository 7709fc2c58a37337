"""The OCPP adapter while the database cannot be reached: degrade, never disconnect.

A charge point whose handshake the database cannot serve is refused with
503 (it retries, as after any refusal) instead of a 500 with a traceback;
a CALL that needs the database gets a CALLERROR (InternalError) from the
consumer's own error handling, and its socket stays open. How fast such a
failure comes is the connection settings' business (DATABASE_CONNECT_TIMEOUT,
DATABASE_POOL_TIMEOUT): seconds, not the default half minute.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from django.db import DatabaseError, InterfaceError, OperationalError

from .handshake import websocket_deny

logger = logging.getLogger(__name__)

# SQLSTATEs of a server that is there but will not serve: shutting down,
# starting up, crashed ("admin_shutdown", "crash_shutdown", "cannot_connect_now").
_SERVER_GOING_AWAY = {"57P01", "57P02", "57P03"}


def database_unavailable(exc: BaseException) -> bool:
    """Whether a database error means "cannot reach the database", not "refused this write".

    Deadlocks and serialization failures are OperationalErrors too, with a
    SQLSTATE of their own: those concern one transaction and are retried as
    such. A connection that failed, timed out, or could not be had from the
    pool has no SQLSTATE (or class 08, connection exception).
    """
    if isinstance(exc, InterfaceError):  # "connection already closed"
        return True
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    state = getattr(cause, "sqlstate", None)
    if state is None:
        # psycopg's own errors carry `sqlstate` (None when no server said
        # anything); another driver's (SQLite's "database is locked") do not.
        return cause is not None and hasattr(cause, "sqlstate")
    return state.startswith("08") or state in _SERVER_GOING_AWAY


class DatabaseOutageMixin:
    """Refuse a handshake the database could not serve with 503, not a 500.

    Wraps Channels' `websocket_connect`, so that every database call of
    `connect` (authentication, registration, marking the charge point
    connected) is covered wherever it sits. After `accept` the handshake is
    answered: a failure then is not a refusal and goes on as before.
    """

    _handshake_answered = False

    async def accept(self, *args, **kwargs):
        self._handshake_answered = True
        await super().accept(*args, **kwargs)

    async def websocket_connect(self, message):
        try:
            await super().websocket_connect(message)
        except DatabaseError as exc:
            if self._handshake_answered or not database_unavailable(exc):
                raise
            logger.warning("refused a handshake (503): database unavailable: %s", exc)
            await websocket_deny(self.scope, self.base_send, HTTPStatus.SERVICE_UNAVAILABLE)

"""Django's PostgreSQL backend with a circuit breaker around getting a connection.

While PostgreSQL cannot be reached, every attempt to get a connection waits
for its timeout (DATABASE_POOL_TIMEOUT from the pool, DATABASE_CONNECT_TIMEOUT
without one). An ASGI process runs its ORM calls one after another on one
thread: each OCPP message, journal flush and heartbeat would wait its turn
and then its own timeout, and answers would come minutes late. Here the
first failure opens the breaker: for RETRY_SECONDS every attempt fails at
once, then one attempt probes (a pool is only asked whether it has
reconnected meanwhile: it keeps trying in the background; the connection
it gives makes a round trip), and the first success closes it. Errors
that are not "cannot reach the server" (a wrong password, a missing
database) pass through and open nothing.

Selected by settings.py (ENGINE "csms_project.postgresql"); otherwise it is
Django's backend unchanged.
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg
from django.db.backends.postgresql import base

logger = logging.getLogger(__name__)

# How long attempts fail at once after a failed one, before the next probe.
RETRY_SECONDS = 1.0
# A probe asks the pool for a connection it already has, waiting this long.
POOL_PROBE_SECONDS = 0.05
# SQLSTATEs of a server that is there but will not serve (shutting down, starting up).
_SERVER_GOING_AWAY = {"57P01", "57P02", "57P03"}


def unreachable(exc: psycopg.Error) -> bool:
    """A failure to reach the server (no SQLSTATE, or class 08), not a refusal by it."""
    state = exc.sqlstate
    return state is None or state.startswith("08") or state in _SERVER_GOING_AWAY


class Breaker:
    """Whether to try the server now; one per server address, shared by all threads."""

    def __init__(self, name: str, retry_seconds: float = RETRY_SECONDS):
        self.name, self.retry_seconds = name, retry_seconds
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self._next_try = 0.0

    def admit(self) -> bool:
        """True to try the server (normally, or as the one probe); False to fail at once."""
        with self._lock:
            if self.down_since is None:
                return True
            now = time.monotonic()
            if now < self._next_try:
                return False
            self._next_try = now + self.retry_seconds  # the others fail at once meanwhile
            return True

    @property
    def is_open(self) -> bool:
        return self.down_since is not None

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            now = time.monotonic()
            if self.down_since is None:
                self.down_since = now
                logger.error("database %s unreachable (%s): failing fast", self.name, exc)
            self._next_try = now + self.retry_seconds

    def succeeded(self) -> None:
        with self._lock:
            if self.down_since is None:
                return
            down_for = time.monotonic() - self.down_since
            self.down_since = None
        logger.warning("database %s reachable again after %.1f s", self.name, down_for)


_breakers: dict[str, Breaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(settings_dict: dict) -> Breaker:
    name = f"{settings_dict.get('HOST') or 'localhost'}:{settings_dict.get('PORT') or 5432}"
    with _breakers_lock:
        return _breakers.setdefault(name, Breaker(name))


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        breaker = breaker_for(self.settings_dict)
        if not breaker.admit():
            raise psycopg.OperationalError(
                f"database {breaker.name} unavailable: the last attempt failed"
                f" (next within {breaker.retry_seconds:g} s)"
            )
        try:
            if breaker.is_open and self.pool:
                self._probe_pool()
                breaker.succeeded()
            connection = super().get_new_connection(conn_params)
        except psycopg.Error as exc:
            if unreachable(exc):
                breaker.failed(exc)
            raise
        if not self.pool:
            breaker.succeeded()  # a new connection: the server answered
        return connection

    def _probe_pool(self) -> None:
        """Raise unless the pool has reconnected meanwhile (it keeps trying on its own).

        A connection the pool kept from before the outage may be dead
        without knowing it: the probe's connection makes a round trip.
        """
        self.pool.open()
        connection = self.pool.getconn(timeout=POOL_PROBE_SECONDS)
        try:
            self.pool.check_connection(connection)
        finally:
            self.pool.putconn(connection)  # a broken one is discarded and replaced

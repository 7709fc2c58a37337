"""Fixtures shared by every app's tests."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings

from csms_project.celery import app as celery_app


@pytest.fixture(autouse=True)
def _celery_eager():
    """Run tasks in-process: unit tests must not leave messages on a broker.

    The end-to-end tests start a real worker process instead.
    """
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _lab_registration(request, settings):
    """Accept unknown charge points at once, as a lab installation opts in to.

    Most tests drive a charge point that connects without being registered
    first. The product's default (Pending: an operator accepts) is tested by
    tests marked `secure_defaults`, which keep the real settings.
    """
    if request.node.get_closest_marker("secure_defaults") is None:
        settings.OCPP_DEFAULT_REGISTRATION_STATUS = "Accepted"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Hash new user passwords cheaply in tests (PBKDF2's cost is for attackers)."""
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        *settings.PASSWORD_HASHERS,
    ]


@pytest.fixture(autouse=True)
def _fresh_connector_cache():
    """Rolled-back tests reuse primary keys: never carry cached ones across tests."""
    from stations.services.charge_points import connector_pk_cache_clear

    connector_pk_cache_clear()
    yield
    connector_pk_cache_clear()


@pytest.fixture(autouse=True)
def _fresh_compatibility_profiles():
    """Each test starts from its own profiles, not a snapshot a previous test loaded."""
    from ocpp_consumer.compat_profiles import relaxations_cache_clear

    relaxations_cache_clear()
    yield
    relaxations_cache_clear()


@pytest.fixture(autouse=True)
def _default_language():
    """Start every test in the default language: a request's LocaleMiddleware
    leaves its language active in the thread, which would leak into the next test."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _channel_layer_reachable():
    """Start every test with the channel layer marked reachable: an outage test leaves
    this process's view of it down, and the next test's commands would not be routed."""
    from monitoring import channel_health

    channel_health.health.reset()
    yield
    channel_health.health.reset()


class _ConnectionReturningExecutor(ThreadPoolExecutor):
    """Give each call's database connections back when the call ends.

    Daphne closes a request's connections when it finishes; a test that runs
    the test client or the ORM in `asyncio.to_thread` or
    `sync_to_async(thread_sensitive=False)` has nobody to do it. The loop's
    threads end with the test, their connections stay checked out of the
    process's pool, and after a few hundred tests the pool is empty: every
    later test waits for a connection, fails, and opens the circuit breaker.
    """

    def submit(self, fn, /, *args, **kwargs):
        def call_then_close():
            try:
                return fn(*args, **kwargs)
            finally:
                from django.db import connections

                for connection in connections.all(initialized_only=True):
                    connection.close()

        return super().submit(call_then_close)


class _ConnectionReturningLoops(asyncio.DefaultEventLoopPolicy):
    """Every event loop of the test process (pytest-asyncio's, `asyncio.run`'s,
    a test server thread's) runs its executor calls on those threads."""

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        loop = super().new_event_loop()
        loop.set_default_executor(_ConnectionReturningExecutor(thread_name_prefix="test-loop"))
        return loop


def _flush_by_delete() -> None:
    """Empty the tables after a transactional test with DELETE, not TRUNCATE (PostgreSQL).

    Django flushes every table (about 150 here, with their indexes) after each
    test that commits; a TRUNCATE gives each a new file, about a second per
    test on this machine, for tables that hold a few rows. One DELETE per
    table in the flush's transaction leaves the same empty tables (Django's
    foreign keys are checked at commit, so the order does not matter).
    Sequence resets (`reset_sequences`) keep Django's TRUNCATE.
    """
    from django.db.backends.postgresql.operations import DatabaseOperations

    truncate = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or not tables:
            return truncate(
                self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        return [f"DELETE FROM {self.quote_name(table)};" for table in tables]

    DatabaseOperations.sql_flush = sql_flush


def pytest_configure(config):
    asyncio.set_event_loop_policy(_ConnectionReturningLoops())
    _flush_by_delete()

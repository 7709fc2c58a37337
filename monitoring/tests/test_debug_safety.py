"""With DEBUG on, a connection used outside requests keeps a small query log."""

import threading

import pytest
from django.db import connection

from monitoring.debug_safety import SQL_CHARS, BoundedQueryLog

pytestmark = pytest.mark.django_db(transaction=True)


def on_a_new_thread(work):
    """Run `work` on a thread of its own (its own connection, as a writer thread has)."""
    outcome = {}

    def run():
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed to the test below
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def many_large_queries(count: int, size: int):
    big = "x" * size
    with connection.cursor() as cursor:
        for _ in range(count):
            cursor.execute("SELECT %s", [big])
    return connection.queries_log


def test_the_query_log_stays_small_outside_requests_with_debug_on(settings):
    settings.DEBUG = True
    settings.DEBUG_QUERY_LOG_LIMIT = 50
    log = on_a_new_thread(lambda: many_large_queries(2000, 20_000))
    assert isinstance(log, BoundedQueryLog)
    assert len(log) == 50
    # Without the bound: 2,000 entries of 20 KB each (40 MB) on one connection.
    assert sum(len(entry["sql"]) for entry in log) <= 50 * (SQL_CHARS + 40)
    assert log[-1]["sql"].startswith("SELECT 'xxx") and "characters)" in log[-1]["sql"]


def test_with_debug_off_django_keeps_its_own_log(settings):
    settings.DEBUG = False
    log = on_a_new_thread(lambda: many_large_queries(3, 10))
    assert not isinstance(log, BoundedQueryLog)

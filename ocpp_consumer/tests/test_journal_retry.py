"""A journal batch chosen as a deadlock's victim is repeated, not dropped."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from ocpp_consumer import journal


class _Deadlock(Exception):
    sqlstate = "40P01"


def _failing(times: int, sqlstate_error: type[Exception]):
    calls = []

    def insert(rows):
        calls.append(len(rows))
        if len(calls) <= times:
            raise OperationalError("deadlock detected") from sqlstate_error()

    return insert, calls


def test_a_deadlocked_batch_is_repeated(monkeypatch):
    insert, calls = _failing(2, _Deadlock)
    monkeypatch.setattr(journal, "_insert", insert)
    journal._insert_retrying([("row",)])
    assert calls == [1, 1, 1]


def test_an_unreachable_database_is_not_repeated(monkeypatch):
    class _Unreachable(Exception):
        sqlstate = "08006"

    insert, calls = _failing(1, _Unreachable)
    monkeypatch.setattr(journal, "_insert", insert)
    with pytest.raises(OperationalError):
        journal._insert_retrying([("row",)])
    assert calls == [1]


def test_a_deadlock_that_persists_gives_up(monkeypatch):
    insert, calls = _failing(10, _Deadlock)
    monkeypatch.setattr(journal, "_insert", insert)
    with pytest.raises(OperationalError):
        journal._insert_retrying([("row",)])
    assert len(calls) == journal.TRANSIENT_RETRIES + 1


def test_a_batch_that_keeps_deadlocking_is_written_row_by_row(monkeypatch):
    """Its foreign-key checks lock many charge points at once; a row alone locks one."""
    written = []

    def insert(rows):
        if len(rows) > 1:
            raise OperationalError("deadlock detected") from _Deadlock()
        written.extend(rows)

    monkeypatch.setattr(journal, "_insert", insert)
    monkeypatch.setattr(journal, "_storable_row", lambda row, with_payload: row)
    assert journal._write([(2, "in"), (1, "out"), (3, "in")]) == 0
    assert written == [(1, "out"), (2, "in"), (3, "in")]

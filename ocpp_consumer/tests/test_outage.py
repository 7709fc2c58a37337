"""Which database errors mean "the database cannot be reached", and what group commit does then."""

import sqlite3

import psycopg
import pytest
from django.db import IntegrityError, InterfaceError, OperationalError
from psycopg import errors
from psycopg_pool import PoolTimeout

from ocpp_consumer.group_commit import Write, commit_batch
from ocpp_consumer.outage import database_unavailable


def wrapped(cause: Exception, as_type=OperationalError) -> Exception:
    """As Django raises it: its own class, the driver's error as the cause."""
    exc = as_type(str(cause))
    exc.__cause__ = cause
    return exc


def test_no_connection_is_unavailable():
    assert database_unavailable(wrapped(PoolTimeout("couldn't get a connection after 5.00 sec")))
    assert database_unavailable(wrapped(psycopg.OperationalError("server closed the connection")))
    assert database_unavailable(wrapped(errors.AdminShutdown()))
    assert database_unavailable(InterfaceError("connection already closed"))


def test_a_refused_transaction_is_not():
    assert not database_unavailable(wrapped(errors.DeadlockDetected()))
    assert not database_unavailable(wrapped(errors.SerializationFailure()))
    assert not database_unavailable(wrapped(sqlite3.OperationalError("database is locked")))
    assert not database_unavailable(IntegrityError("duplicate key"))
    assert not database_unavailable(OperationalError("no cause"))


@pytest.mark.django_db
def test_a_batch_that_cannot_reach_the_database_fails_whole_not_write_by_write():
    calls = []

    def write(**kwargs):
        calls.append(kwargs)
        raise wrapped(PoolTimeout("couldn't get a connection after 5.00 sec"))

    outcomes = commit_batch([Write(write, {"n": n}) for n in range(3)])
    assert [ok for ok, _ in outcomes] == [False, False, False]
    assert all(database_unavailable(error) for _, error in outcomes)
    assert len(calls) == 1  # not once more per write, each waiting for the database


@pytest.mark.django_db
def test_a_batch_refused_for_one_write_is_still_retried_write_by_write():
    def write(n):
        if n == 1:
            raise IntegrityError("duplicate key")
        return n

    outcomes = commit_batch([Write(write, {"n": n}) for n in range(3)])
    assert [(ok, value if ok else None) for ok, value in outcomes] == [
        (True, 0),
        (False, None),
        (True, 2),
    ]

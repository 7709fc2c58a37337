"""The circuit breaker of the PostgreSQL backend: fail fast while the server is unreachable."""

import time

import psycopg
from psycopg import errors

from csms_project.postgresql.base import Breaker, unreachable


def test_unreachable_is_about_the_server_not_a_refusal():
    assert unreachable(psycopg.OperationalError("connection timeout expired"))
    assert unreachable(errors.AdminShutdown())
    assert unreachable(errors.ConnectionFailure())
    assert not unreachable(errors.InvalidPassword())
    assert not unreachable(errors.DeadlockDetected())


def test_a_failure_opens_it_one_probe_per_retry_period_and_a_success_closes_it():
    breaker = Breaker("db:5432", retry_seconds=0.2)
    assert breaker.admit() and not breaker.is_open
    breaker.failed(psycopg.OperationalError("refused"))
    assert breaker.is_open and not breaker.admit()
    time.sleep(0.25)
    assert breaker.admit()  # the probe
    assert not breaker.admit()  # the others meanwhile fail at once
    breaker.succeeded()
    assert not breaker.is_open and breaker.admit() and breaker.admit()

"""A locked sign-in answers 429 with Retry-After and says so; the right password waits too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.cache import cache
from rest_framework.test import APIClient

from api_support.testing import make_driver

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_counters():
    """Counters live in the process's cache: leave none to the next tests (anon shares one)."""
    cache.clear()
    yield
    cache.clear()


TOKEN = "/api/v1/auth/token/"
PASSWORD = "driver-pass-123"


@pytest.fixture
def alice():
    return make_driver("alice")


def sign_in(password, username="alice", address="203.0.113.7"):
    return APIClient().post(
        TOKEN, {"username": username, "password": password}, format="json", REMOTE_ADDR=address
    )


def fail_until_locked(settings, username="alice"):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        wrong = sign_in("wrong", username=username)
        assert wrong.status_code == 400
        assert wrong.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}


def test_the_right_password_is_429_with_retry_after_while_locked(alice, settings):
    fail_until_locked(settings)
    locked = sign_in(PASSWORD)
    assert locked.status_code == 429
    retry_after = int(locked["Retry-After"])
    cool_off = int(settings.AXES_COOLOFF_TIME.total_seconds())
    assert cool_off - 5 <= retry_after <= cool_off
    assert locked.json() == {
        "detail": f"Too many failed sign-in attempts; try again in {retry_after} s."
    }
    assert "token" not in locked.json()


def test_waiting_does_not_lift_the_lock_early_and_the_end_of_the_window_does(alice, settings):
    fail_until_locked(settings)
    # Most of the cool-off has passed: still locked, with the time left.
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time
        - settings.AXES_COOLOFF_TIME
        + timedelta(seconds=30)
    )
    nearly = sign_in(PASSWORD)
    assert nearly.status_code == 429
    assert 1 <= int(nearly["Retry-After"]) <= 30
    # Trying during the lock does not move its end.
    assert int(sign_in(PASSWORD)["Retry-After"]) <= 30

    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(seconds=31)
    )
    assert sign_in(PASSWORD).status_code == 200


def test_the_lock_is_per_username_and_address(alice, settings):
    make_driver("bob")
    fail_until_locked(settings)
    assert sign_in(PASSWORD, address="198.51.100.1").status_code == 200
    assert sign_in(PASSWORD, username="bob").status_code == 200
    assert sign_in(PASSWORD, username="ALICE").status_code == 429  # usernames ignore case


def test_a_success_resets_the_count(alice, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in("wrong")
    assert sign_in(PASSWORD).status_code == 200
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in("wrong")
    assert sign_in(PASSWORD).status_code == 200


def test_a_password_reset_lifts_the_lock(alice, settings):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    fail_until_locked(settings)
    alice.refresh_from_db()
    confirm = APIClient().post(
        "/api/v1/auth/password-reset/confirm/",
        {
            "uid": urlsafe_base64_encode(force_bytes(alice.pk)),
            "token": default_token_generator.make_token(alice),
            "new_password": "a-brand-new-passphrase-7",
        },
        format="json",
    )
    assert confirm.status_code == 204, confirm.json()
    assert sign_in("a-brand-new-passphrase-7").status_code == 200


def test_missing_fields_are_named(alice):
    response = APIClient().post(TOKEN, {"username": "alice"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"password": ["This field is required."]}


def test_the_schema_lists_the_lockout_answer():
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    answer = schema["paths"][TOKEN]["post"]["responses"]["429"]
    assert "Retry-After" in answer["headers"]
    example = next(iter(answer["content"]["application/json"]["examples"].values()))
    assert "try again in" in example["value"]["detail"]

"""Every API answer tells the caller its rate limit; a 429 says when to come back."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from api_support.testing import client_for, make_driver

pytestmark = pytest.mark.django_db

HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


@pytest.fixture
def rates(settings):
    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "3/minute", "driver": "4/minute", "operator": None},
    }
    yield
    cache.clear()


def limits(response) -> tuple[int, int, int]:
    return tuple(int(response[header]) for header in HEADERS)


def test_remaining_counts_down_and_429_has_retry_after(rates):
    client = client_for(make_driver("alice"))
    answers = [client.get("/api/v1/me/") for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
    assert [limits(a)[:2] for a in answers] == [(4, 3), (4, 2), (4, 1), (4, 0), (4, 0)]
    assert all(0 < limits(a)[2] <= 60 for a in answers)
    assert 0 < int(answers[-1]["Retry-After"]) <= 60


@pytest.mark.parametrize(
    "path, status",
    [
        ("/api/v1/me/", 401),  # no token: answered before throttling, nothing counted
        ("/api/v1/nothing-here/", 404),
        ("/api/v1/drivers/", 401),
    ],
)
def test_error_answers_carry_the_headers_too(rates, path, status):
    client = client_for()
    response = client.get(path)
    assert response.status_code == status
    assert limits(response)[0] == 3


def test_a_bad_token_is_answered_with_the_anonymous_limit_uncounted(rates):
    client = client_for()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    first, second = client.get("/api/v1/me/"), client.get("/api/v1/me/")
    assert first.status_code == second.status_code == 401
    assert limits(first)[:2] == limits(second)[:2] == (3, 3)


def test_forbidden_answers_carry_the_drivers_limit(rates):
    client = client_for(make_driver("alice"))
    response = client.get("/api/v1/drivers/")
    assert response.status_code == 403
    assert limits(response)[0] == 4


def test_no_rate_no_headers(rates):
    from api_support.testing import make_operator

    response = client_for(make_operator()).get("/api/v1/me/")
    assert response.status_code == 200
    assert not any(header in response for header in HEADERS)

"""API errors: a Redis that does not answer is a JSON 503 with Retry-After, and may be retried."""

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from api_support.exceptions import RETRY_AFTER_SECONDS
from api_support.models import IdempotencyRecord
from api_support.testing import client_for, make_operator
from stations.models import Station

pytestmark = pytest.mark.django_db

STATIONS = "/api/v1/stations/"


@pytest.fixture
def operator_client():
    return client_for(make_operator("stations.add_station", "stations.view_station"))


@pytest.fixture
def redis_down(monkeypatch):
    """Station creation fails as a call to an unreachable Redis would."""
    from stations.api.views import StationViewSet

    original = StationViewSet.perform_create
    state = {"down": True}

    def perform_create(self, serializer):
        if state["down"]:
            raise RedisConnectionError(
                "Error 111 connecting to 127.0.0.1:6379. Connection refused."
            )
        return original(self, serializer)

    monkeypatch.setattr(StationViewSet, "perform_create", perform_create)
    return state


def test_an_unreachable_redis_is_a_json_503_with_retry_after(operator_client, redis_down):
    response = operator_client.post(STATIONS, {"name": "Depot"}, format="json")
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response["Content-Type"] == "application/json"
    assert "Redis" in response.json()["detail"]


def test_a_503_leaves_the_idempotency_key_free_for_the_retry(operator_client, redis_down):
    key = {"Idempotency-Key": "after-503"}
    assert (
        operator_client.post(STATIONS, {"name": "Depot"}, format="json", headers=key).status_code
        == 503
    )
    assert not IdempotencyRecord.objects.exists()  # nothing stored to replay

    redis_down["down"] = False
    retried = operator_client.post(STATIONS, {"name": "Depot"}, format="json", headers=key)
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried
    assert Station.objects.count() == 1
    replayed = operator_client.post(STATIONS, {"name": "Depot"}, format="json", headers=key)
    assert replayed["Idempotent-Replayed"] == "true"  # from now on, the first answer
    assert Station.objects.count() == 1


def test_an_unreachable_database_is_a_json_503_with_retry_after():
    from django.db import OperationalError

    from api_support.exceptions import api_exception_handler

    response = api_exception_handler(OperationalError("connection refused"), {})
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "database" in str(response.data["detail"])

"""API plumbing: Idempotency-Key, throttling per role, JSON errors, pagination, the schema."""

import pytest
from django.core.cache import cache
from django.core.management import call_command

from api_support.testing import client_for, make_driver, make_operator
from stations.models import Station

pytestmark = pytest.mark.django_db

STATIONS = "/api/v1/stations/"


@pytest.fixture
def operator_client():
    return client_for(make_operator("stations.add_station", "stations.view_station"))


# --- Idempotency-Key --------------------------------------------------------------


def test_repeated_create_with_the_same_key_creates_once(operator_client):
    headers = {"Idempotency-Key": "7d4c0b6e-create-1"}
    first = operator_client.post(STATIONS, {"name": "Depot"}, format="json", headers=headers)
    second = operator_client.post(STATIONS, {"name": "Depot"}, format="json", headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Station.objects.count() == 1


def test_without_a_key_each_request_acts(operator_client):
    operator_client.post(STATIONS, {"name": "Depot"}, format="json")
    operator_client.post(STATIONS, {"name": "Depot"}, format="json")
    assert Station.objects.count() == 2


def test_same_key_with_another_body_is_refused(operator_client):
    headers = {"Idempotency-Key": "k-1"}
    operator_client.post(STATIONS, {"name": "Depot"}, format="json", headers=headers)
    response = operator_client.post(STATIONS, {"name": "Other"}, format="json", headers=headers)
    assert response.status_code == 422
    assert "detail" in response.json()
    assert list(Station.objects.values_list("name", flat=True)) == ["Depot"]


def test_keys_belong_to_their_user(operator_client):
    other = client_for(make_operator("stations.add_station"))
    headers = {"Idempotency-Key": "shared"}
    operator_client.post(STATIONS, {"name": "A"}, format="json", headers=headers)
    response = other.post(STATIONS, {"name": "A"}, format="json", headers=headers)
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Station.objects.count() == 2


def test_an_error_answer_is_replayed_too(operator_client):
    headers = {"Idempotency-Key": "bad-1"}
    first = operator_client.post(STATIONS, {"name": ""}, format="json", headers=headers)
    second = operator_client.post(STATIONS, {"name": ""}, format="json", headers=headers)
    assert first.status_code == second.status_code == 400
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"


def test_a_request_still_running_with_the_key_gets_409(operator_client):
    from api_support.models import IdempotencyRecord

    first = operator_client.post(
        STATIONS, {"name": "Depot"}, format="json", headers={"Idempotency-Key": "slow"}
    )
    IdempotencyRecord.objects.filter(key="slow").update(status_code=None, response_body=None)
    response = operator_client.post(
        STATIONS, {"name": "Depot"}, format="json", headers={"Idempotency-Key": "slow"}
    )
    assert first.status_code == 201
    assert response.status_code == 409
    assert Station.objects.count() == 1


def test_an_unexpected_failure_releases_the_key(operator_client, monkeypatch):
    from api_support.models import IdempotencyRecord
    from stations.api.views import StationViewSet

    def explode(self, serializer):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(StationViewSet, "perform_create", explode)
    with pytest.raises(RuntimeError):
        operator_client.post(
            STATIONS, {"name": "Depot"}, format="json", headers={"Idempotency-Key": "k"}
        )
    assert not IdempotencyRecord.objects.exists()
    monkeypatch.undo()
    retry = operator_client.post(
        STATIONS, {"name": "Depot"}, format="json", headers={"Idempotency-Key": "k"}
    )
    assert retry.status_code == 201


def test_an_overlong_key_is_refused(operator_client):
    response = operator_client.post(
        STATIONS, {"name": "Depot"}, format="json", headers={"Idempotency-Key": "k" * 256}
    )
    assert response.status_code == 400
    assert not Station.objects.exists()


def test_purge_forgets_old_keys(operator_client):
    from datetime import timedelta

    from django.utils import timezone

    from api_support.models import IdempotencyRecord

    operator_client.post(STATIONS, {"name": "A"}, format="json", headers={"Idempotency-Key": "k"})
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(days=2))
    call_command("idempotency_purge")
    assert not IdempotencyRecord.objects.exists()


# --- throttling ---------------------------------------------------------------------


@pytest.fixture
def rates(settings):
    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            "anon": "2/minute",
            "driver": "3/minute",
            "operator": "4/minute",
        },
    }
    yield
    cache.clear()


@pytest.mark.parametrize(
    "role, allowed", [("anon", 2), ("driver", 3), ("operator", 4)], ids=lambda v: str(v)
)
def test_each_role_has_its_own_rate(rates, role, allowed):
    user = {"anon": None, "driver": make_driver("alice"), "operator": make_operator()}[role]
    client = client_for(user)
    path = "/api/v1/auth/signup/" if role == "anon" else "/api/v1/me/"
    codes = [
        (client.post(path, {}, format="json") if role == "anon" else client.get(path)).status_code
        for _ in range(allowed)
    ]
    assert 429 not in codes
    throttled = client.post(path, {}, format="json") if role == "anon" else client.get(path)
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    assert "detail" in throttled.json()


def test_drivers_are_counted_apart(rates):
    alice, bob = client_for(make_driver("alice")), client_for(make_driver("bob"))
    for _ in range(3):
        alice.get("/api/v1/me/")
    assert alice.get("/api/v1/me/").status_code == 429
    assert bob.get("/api/v1/me/").status_code == 200


def test_no_rate_means_no_throttling(settings):
    cache.clear()
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {}}
    client = client_for(make_driver("alice"))
    assert all(client.get("/api/v1/me/").status_code == 200 for _ in range(30))


def test_sign_in_is_throttled_for_anonymous_callers(rates):
    make_driver("alice")
    client = client_for()
    for _ in range(2):
        client.post("/api/v1/auth/token/", {"username": "alice", "password": "x"}, format="json")
    response = client.post(
        "/api/v1/auth/token/", {"username": "alice", "password": "driver-pass-123"}, format="json"
    )
    assert response.status_code == 429


# --- errors, pagination, schema -------------------------------------------------------


def test_unknown_paths_are_json_404s():
    client = client_for(make_driver("alice"))
    for path in ("/api/v1/nothing-here/", "/api/v1/stations/1/nope/", "/api/v1/transactions/x/"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json() == {"detail": "Not found."}, path
    assert client.post("/api/v1/nothing-here/", {}, format="json").status_code == 404


def test_a_missing_trailing_slash_redirects_as_usual():
    response = client_for(make_driver("alice")).get("/api/v1/stations")
    assert response.status_code == 301
    assert response["Location"].endswith("/api/v1/stations/")


def test_405_is_json():
    client = client_for(make_operator("stations.view_station", "stations.delete_station"))
    response = client.delete(STATIONS)
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "DELETE" not allowed.'}


def test_pagination_envelope_and_page_size():
    Station.objects.bulk_create(Station(name=f"S{n:02}") for n in range(7))
    client = client_for(make_driver("alice"))
    page = client.get(STATIONS, {"page_size": 3, "page": 2}).json()
    assert page["count"] == 7
    assert [s["name"] for s in page["results"]] == ["S03", "S04", "S05"]
    assert "page=3" in page["next"] and "page_size=3" in page["next"]
    assert page["previous"]
    assert client.get(STATIONS, {"page": 9}).status_code == 404


def test_schema_and_docs_are_served():
    client = client_for()
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/charge-points/{charge_point_id}/commands/remote-start-transaction/" in paths
    start = paths["/api/v1/charge-points/{charge_point_id}/commands/remote-start-transaction/"]
    body = start["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["id_tag"]
    assert {"200", "400", "401", "403", "404", "409", "502", "504"} <= set(
        start["post"]["responses"]
    )
    assert client.get("/api/docs/").status_code == 200

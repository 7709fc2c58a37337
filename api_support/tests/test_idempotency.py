"""Idempotency-Key: a claim left by a server process that died is taken over by the retry."""

from datetime import timedelta

import pytest
from django.utils import timezone

from api_support.idempotency import IN_PROGRESS_ON
from api_support.models import IdempotencyRecord
from api_support.testing import client_for, make_operator
from monitoring import nodes
from monitoring.models import Node, NodeKind
from stations.models import Station

pytestmark = pytest.mark.django_db

STATIONS = "/api/v1/stations/"
KEY = {"Idempotency-Key": "crash-1"}


@pytest.fixture
def operator_client():
    return client_for(make_operator("stations.add_station", "stations.view_station"))


def serving_node(node_id: str, *, silent: float) -> Node:
    now = timezone.now()
    return Node.objects.create(
        node_id=node_id,
        kind=NodeKind.ASGI,
        hostname="h",
        pid=1,
        started_at=now,
        last_seen=now - timedelta(seconds=silent),
        beating_since=now,
    )


def left_in_progress_by(node_id: str) -> None:
    """What a request does to its record when its process dies before answering."""
    IdempotencyRecord.objects.filter(key=KEY["Idempotency-Key"]).update(
        status_code=None, response_body={IN_PROGRESS_ON: node_id}
    )


def test_a_claim_names_the_process_serving_it(operator_client, monkeypatch):
    seen = {}
    from stations.api.views import StationViewSet

    original = StationViewSet.perform_create

    def peek(self, serializer):
        seen["body"] = IdempotencyRecord.objects.get().response_body
        return original(self, serializer)

    monkeypatch.setattr(StationViewSet, "perform_create", peek)
    operator_client.post(STATIONS, {"name": "Depot"}, format="json", headers=KEY)
    assert seen["body"] == {IN_PROGRESS_ON: nodes.current().node_id}
    assert IdempotencyRecord.objects.get().status_code == 201


def test_a_retry_runs_when_the_process_holding_the_key_died(operator_client, settings):
    settings.MONITORING_NODE_DEAD_AFTER_SECONDS = 30
    operator_client.post(STATIONS, {"name": "Depot"}, format="json", headers=KEY)
    Station.objects.all().delete()  # as if the first request never got to it
    serving_node("killed", silent=60)
    left_in_progress_by("killed")
    retry = operator_client.post(STATIONS, {"name": "Depot"}, format="json", headers=KEY)
    assert retry.status_code == 201
    assert "Idempotent-Replayed" not in retry
    assert Station.objects.count() == 1
    again = operator_client.post(STATIONS, {"name": "Depot"}, format="json", headers=KEY)
    assert again["Idempotent-Replayed"] == "true"


def test_a_claim_of_a_live_or_unknown_process_still_answers_409(operator_client, settings):
    settings.MONITORING_NODE_DEAD_AFTER_SECONDS = 30
    operator_client.post(STATIONS, {"name": "Depot"}, format="json", headers=KEY)
    serving_node("busy", silent=1)
    for node_id in ("busy", "not-in-the-registry"):
        left_in_progress_by(node_id)
        response = operator_client.post(STATIONS, {"name": "Depot"}, format="json", headers=KEY)
        assert response.status_code == 409, node_id
    assert Station.objects.count() == 1

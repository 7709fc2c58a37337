"""/readyz tells the truth: what makes a node not ready (503), what only degrades it (200).

503 when the database, the channel layer or the broker does not answer (a
load balancer takes the node out); 200 "degraded" while no Celery worker
lives or invoicing events lag (charging works, invoices wait). The channel
layer is probed beside the consumers, never through their receive path:
with charge points connected the probe used to wait behind their lock.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
import websockets
from django.utils import timezone

from csms_project import testing
from events.models import OutboxMessage
from monitoring import checks
from monitoring.metrics import exposition
from monitoring.models import Node, NodeKind
from monitoring.selectors import dashboard_snapshot

DASHBOARD = "/admin/dashboard/"


def live_worker(name="celery@test") -> Node:
    now = timezone.now()
    return Node.objects.create(
        node_id=name, kind=NodeKind.CELERY, hostname="h", pid=1, started_at=now, last_seen=now
    )


def get_readyz(base_url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{base_url}/readyz", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# --- in process ---------------------------------------------------------------------
# The checks read the registry on a connection of their own: the data must be committed.


@pytest.mark.django_db(transaction=True)
def test_without_a_live_worker_the_node_is_degraded_not_out(client):
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "degraded" and body["charging"] is True
    assert body["failing"] == [] and body["degraded"] == ["workers"]
    workers = body["components"]["workers"]
    assert workers["state"] == "degraded" and workers["required"] is False
    assert "No Celery worker" in workers["error"] and workers["impact"]

    live_worker()
    body = client.get("/readyz").json()
    assert body["status"] == "ok" and body["degraded"] == []
    assert body["components"]["workers"]["alive"] == 1


@pytest.mark.django_db(transaction=True)
def test_a_lagging_outbox_degrades_and_raises_the_alarm(client, settings):
    settings.MONITORING_OUTBOX_LAG_ALARM_SECONDS = 60
    live_worker()
    OutboxMessage.objects.create(
        kind="session.ended",
        subscriber="invoicing",
        payload={"transaction": 1},
        created_at=timezone.now() - timedelta(seconds=30),
    )
    assert client.get("/readyz").json()["status"] == "ok"  # young: the relay is on it
    assert dashboard_snapshot()["alarms"] == []
    OutboxMessage.objects.update(created_at=timezone.now() - timedelta(minutes=10))
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200 and body["degraded"] == ["outbox"]
    assert body["components"]["outbox"]["pending"] == 1
    assert body["components"]["outbox"]["oldest_pending_seconds"] >= 600
    alarms = dashboard_snapshot()["alarms"]
    assert [a["code"] for a in alarms] == ["outbox_lag"]
    assert "invoicing" in alarms[0]["message"]
    assert 'csms_alarm{alarm="outbox_lag"} 1.0' in exposition().decode()


@pytest.mark.django_db(transaction=True)
def test_a_failing_required_component_makes_503_and_says_what_it_means(client, monkeypatch):
    async def refused():
        raise ConnectionError("refused")

    live_worker()
    monkeypatch.setitem(checks.CHECKS, "database", refused)
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "fail" and body["failing"] == ["database"]
    assert body["charging"] is False
    assert "charging stops" in body["components"]["database"]["impact"]


@pytest.mark.django_db(transaction=True)
def test_a_missing_worker_is_an_alarm_on_the_dashboard_and_in_metrics(staff_client):
    snapshot = dashboard_snapshot()
    assert [a["code"] for a in snapshot["alarms"]] == ["no_worker"]
    assert snapshot["alarms"][0]["severity"] == "critical"
    assert 'csms_alarm{alarm="no_worker"} 1.0' in exposition().decode()
    html = staff_client.get(DASHBOARD).text
    assert 'data-alarm="no_worker"' in html

    live_worker()
    assert dashboard_snapshot()["alarms"] == []
    assert 'csms_alarm{alarm="no_worker"} 0.0' in exposition().decode()
    assert 'id="alarms" aria-live="polite" hidden' in staff_client.get(DASHBOARD).text


@pytest.mark.e2e
def test_the_redis_probe_does_not_wait_behind_a_blocked_receive(tmp_path, settings):
    """A consumer blocked in receive() holds the layer's lock; the probe passes beside it."""
    with testing.private_redis(tmp_path) as redis_server:
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [redis_server.url], "prefix": "probe-test"},
            }
        }

        async def probe_while_receiving():
            from channels.layers import get_channel_layer

            layer = get_channel_layer()
            channel = await layer.new_channel()
            waiting = asyncio.create_task(layer.receive(channel))
            await asyncio.sleep(0.2)  # it now holds the receive lock
            loop = asyncio.get_running_loop()
            started = loop.time()
            details = await checks.check_channel_layer()
            elapsed = loop.time() - started
            waiting.cancel()
            await layer.close_pools()
            return details, elapsed

        details, elapsed = asyncio.run(probe_while_receiving())
    assert details == {"backend": "redis", "hosts": 1}
    assert elapsed < 0.5


# --- real Daphne, a private Redis ------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_readyz_with_charge_points_connected_then_without_redis(tmp_path):
    with testing.private_redis(tmp_path) as redis_server:
        env = testing.process_env(
            REDIS_URL=redis_server.url,
            CELERY_BROKER_URL=redis_server.url,
            CHANNEL_LAYER_PREFIX=f"readyz-{tmp_path.name}"[:40],
        )
        with testing.daphne_node(env, tmp_path) as base_url:
            ws_base = base_url.replace("http://", "ws://") + "/ocpp/"

            async def poll_with_sockets_open(count: int):
                sockets = [
                    await websockets.connect(f"{ws_base}READY-{n}", subprotocols=["ocpp1.6"])
                    for n in range(count)
                ]
                try:
                    await asyncio.sleep(0.5)  # every consumer now waits in receive()
                    return [await asyncio.to_thread(get_readyz, base_url) for _ in range(3)]
                finally:
                    for socket in sockets:
                        await socket.close()

            for status, body in asyncio.run(poll_with_sockets_open(5)):
                assert status == 200, body
                assert body["failing"] == []
                layer = body["components"]["channel_layer"]
                assert layer["ok"] and layer["backend"] == "redis"
                assert layer["latency_ms"] < 1000
                # No Celery worker in this test: degraded, still in rotation.
                assert body["status"] == "degraded" and "workers" in body["degraded"]

            redis_server.stop()
            status, body = get_readyz(base_url)
            assert status == 503
            assert body["status"] == "fail"
            assert "channel_layer" in body["failing"] and "broker" in body["failing"]
            assert body["charging"] is True  # the database answers: charge points are served
            assert body["components"]["channel_layer"]["error"]

            redis_server.start()
            status, body = testing.wait_until(
                lambda: (result := get_readyz(base_url))[0] == 200 and result, timeout=20
            )
            assert body["failing"] == []

"""Real Daphne processes: the service registry and cross-process live pushes."""

from __future__ import annotations

import asyncio
import json
import os

import pytest
import websockets
from django.conf import settings
from django.db import connection
from django.test import Client

from csms_project import testing
from monitoring.models import Node, NodeKind
from monitoring.selectors import node_for_channel
from stations import services
from stations.models import ChargePoint

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


async def in_thread(func, *args, **kwargs):
    """Run ORM code in a worker thread, closing that thread's connection after."""

    def run():
        try:
            return func(*args, **kwargs)
        finally:
            connection.close()

    return await asyncio.to_thread(run)


def test_daphne_registers_holds_the_socket_and_stops_cleanly(tmp_path):
    env = testing.process_env(CHANNEL_LAYER_PREFIX=f"nodes-{tmp_path.name}"[:40])
    with testing.daphne_node(env, tmp_path) as base_url:
        node = testing.wait_until(lambda: Node.objects.filter(kind=NodeKind.ASGI).first())
        assert node.pid != os.getpid() and node.stopped_at is None
        assert node.channel_prefix

        async def connect_and_look():
            url = base_url.replace("http", "ws") + "/ocpp/E2E-NODE"
            async with websockets.connect(url, subprotocols=["ocpp1.6"]):
                charge_point = await in_thread(
                    testing.wait_until,
                    lambda: ChargePoint.objects.filter(
                        charge_point_id="E2E-NODE", is_online=True
                    ).first(),
                )
                return await in_thread(
                    node_for_channel, channel_name=charge_point.connection_channel
                )

        assert asyncio.run(connect_and_look()) == node
    node.refresh_from_db()
    assert node.stopped_at is not None  # SIGTERM: marked stopped at exit


def test_a_celery_worker_registers_and_stops_cleanly(tmp_path):
    env = testing.process_env()
    with testing.celery_worker(env, tmp_path) as worker:
        node = testing.wait_until(lambda: Node.objects.filter(kind=NodeKind.CELERY).first())
        assert node.pid == worker.pid and node.stopped_at is None
        assert "celery@" in node.node_id
    node.refresh_from_db()
    assert node.stopped_at is not None  # worker_shutdown on SIGTERM


@pytest.mark.redis
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")
def test_a_change_made_in_another_process_reaches_the_dashboard(tmp_path, django_user_model):
    """A sweep or worker process pushes through Redis to the node serving the dashboard."""
    staff = django_user_model.objects.create(username="watcher", is_staff=True)
    client = Client()
    client.force_login(staff)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    charge_point = services.chargepoint_create(charge_point_id="E2E-LIVE")
    env = testing.process_env()  # same Redis prefix as this process
    with testing.daphne_node(env, tmp_path) as base_url:

        async def watch():
            url = base_url.replace("http", "ws") + "/ws/dashboard/"
            headers = [("Cookie", cookie)]
            async with websockets.connect(url, additional_headers=headers, origin=base_url) as ws:
                assert json.loads(await ws.recv())["type"] == "snapshot"
                await in_thread(
                    services.connector_status_update,
                    charge_point_pk=charge_point.pk,
                    connector_id=1,
                    status="Faulted",
                    error_code="GroundFailure",
                )
                while True:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if message["type"] == "charge_points":
                        return message["charge_points"][0]

        card = asyncio.run(watch())
    assert card["id"] == "E2E-LIVE"
    assert (card["connectors"][0]["status"], card["connectors"][0]["error_code"]) == (
        "Faulted",
        "GroundFailure",
    )

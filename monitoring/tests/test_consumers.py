"""/ws/dashboard/: staff only, a snapshot on connect, then the pushed changes."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django.test import Client

from csms_project.asgi import application
from monitoring import nodes
from monitoring.models import Node
from monitoring.routing import dashboard_application
from stations import services

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 5
ORIGIN = (b"origin", b"http://testserver")


def in_worker_thread(func):
    """sync_to_async in a pool thread, closing that thread's connection after."""

    def run(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        finally:
            connection.close()

    return sync_to_async(run, thread_sensitive=False)


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


async def open_dashboard(user=None, *, origin=True):
    headers = [ORIGIN] if origin else []
    if user is not None:
        headers.append((b"cookie", await sync_to_async(session_cookie)(user)))
    communicator = WebsocketCommunicator(application, "/ws/dashboard/", headers=headers)
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    return connected, communicator


@pytest.fixture
async def staff(django_user_model):
    return await django_user_model.objects.acreate(username="op", is_staff=True)


async def test_staff_gets_a_snapshot_then_a_pushed_connector_change(channel_layer, staff):
    charge_point = await sync_to_async(services.chargepoint_create)(charge_point_id="CP-WS")
    connected, dashboard = await open_dashboard(staff)
    assert connected
    snapshot = await dashboard.receive_json_from(timeout=TIMEOUT)
    assert snapshot["type"] == "snapshot"
    assert [card["id"] for card in snapshot["charge_points"]] == ["CP-WS"]
    assert snapshot["summary"]["charge_points"] == {"online": 0, "offline": 1, "total": 1}

    # As the OCPP consumer does it: the service in a worker thread.
    await in_worker_thread(services.connector_status_update)(
        charge_point_pk=charge_point.pk, connector_id=1, status="Charging", error_code="NoError"
    )
    pushed = await dashboard.receive_json_from(timeout=TIMEOUT)
    assert pushed["type"] == "charge_points"
    (card,) = pushed["charge_points"]
    assert card["id"] == "CP-WS"
    assert card["connectors"][0]["status"] == "Charging"

    totals = await dashboard.receive_json_from(timeout=TIMEOUT)  # debounced recount
    assert totals["type"] == "summary"
    assert totals["summary"]["connectors"]["Charging"] == 1
    await dashboard.disconnect()


async def test_a_charge_point_connecting_over_ocpp_shows_up_live(
    channel_layer, staff, charge_point_socket
):
    connected, dashboard = await open_dashboard(staff)
    assert connected
    await dashboard.receive_json_from(timeout=TIMEOUT)  # snapshot
    socket = await charge_point_socket("CP-OCPP")
    pushed = await dashboard.receive_json_from(timeout=TIMEOUT)
    assert pushed["type"] == "charge_points"
    assert (pushed["charge_points"][0]["id"], pushed["charge_points"][0]["online"]) == (
        "CP-OCPP",
        True,
    )
    await socket.call(
        "StatusNotification", {"connectorId": 1, "status": "Charging", "errorCode": "NoError"}
    )
    statuses = []
    while "Charging" not in statuses:
        message = await dashboard.receive_json_from(timeout=TIMEOUT)
        if message["type"] == "charge_points":
            statuses = [c["status"] for c in message["charge_points"][0]["connectors"]]
    await dashboard.disconnect()


async def test_the_watcher_is_counted_while_the_dashboard_is_open(channel_layer, staff):
    connected, dashboard = await open_dashboard(staff)
    assert connected
    await dashboard.receive_json_from(timeout=TIMEOUT)
    node = await Node.objects.aget(node_id=nodes.current().node_id)
    assert node.dashboard_watchers == 1
    assert node.channel_prefix  # learnt from the consumer's channel name
    await dashboard.disconnect()
    await node.arefresh_from_db()
    assert node.dashboard_watchers == 0


async def test_refresh_request_sends_a_new_snapshot(channel_layer, staff):
    connected, dashboard = await open_dashboard(staff)
    assert connected
    await dashboard.receive_json_from(timeout=TIMEOUT)
    await sync_to_async(services.chargepoint_create)(charge_point_id="CP-LATE")
    await dashboard.send_json_to({"type": "refresh"})
    snapshot = await dashboard.receive_json_from(timeout=TIMEOUT)
    assert snapshot["type"] == "snapshot"
    assert [card["id"] for card in snapshot["charge_points"]] == ["CP-LATE"]
    await dashboard.disconnect()


async def test_non_staff_is_refused(channel_layer, django_user_model):
    driver = await django_user_model.objects.acreate(username="driver", is_staff=False)
    connected, _ = await open_dashboard(driver)
    assert connected is False


async def test_anonymous_is_refused(channel_layer):
    connected, _ = await open_dashboard(None)
    assert connected is False


async def test_inactive_staff_is_refused(channel_layer, django_user_model):
    former = await django_user_model.objects.acreate(
        username="former", is_staff=True, is_active=False
    )
    connected, _ = await open_dashboard(former)
    assert connected is False


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [(b"https://csms.example.com", True), (b"https://evil.example.net", False), (None, False)],
)
async def test_the_origin_must_be_an_allowed_host(channel_layer, staff, settings, origin, accepted):
    settings.ALLOWED_HOSTS = ["csms.example.com"]  # read when the route is built
    headers = [(b"cookie", await sync_to_async(session_cookie)(staff))]
    if origin:
        headers.append((b"origin", origin))
    communicator = WebsocketCommunicator(dashboard_application(), "/ws/dashboard/", headers=headers)
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected is accepted
    if connected:
        await communicator.disconnect()


async def test_the_ocpp_route_still_needs_no_origin(channel_layer, handshake):
    connected, _ = await handshake("/ocpp/CP-NO-ORIGIN")
    assert connected is True


async def test_refused_dashboards_are_not_counted(channel_layer, django_user_model):
    driver = await django_user_model.objects.acreate(username="driver2")
    await open_dashboard(driver)
    await asyncio.sleep(0)
    assert not await Node.objects.filter(dashboard_watchers__gt=0).aexists()

"""Monitors, events, display messages and customer information in the API, and the console."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

from api_support.testing import client_for, make_driver, make_operator
from devicemodel import services
from devicemodel.models import DeviceEvent, DisplayMessage
from ocpp_consumer.tests.test_api_commands import answer, next_call
from ocpp_consumer.tests.v201.station import station_201
from stations.models import ChargePoint

from .test_admin import request, signed_in

pytestmark = pytest.mark.django_db(transaction=True)

BASE = "/api/v1/charge-points/CP201/"
TEMP = services.VariableKey(component="EVSE", evse_id=1, variable="Temp")


@sync_to_async
def reported():
    charge_point, _ = ChargePoint.objects.get_or_create(
        charge_point_id="CP201", defaults={"ocpp_version": "2.0.1"}
    )
    at = datetime(2026, 1, 1, tzinfo=UTC)
    common = {"key": TEMP, "timestamp": at, "notification_type": "CustomMonitor"}
    services.device_events_record(
        charge_point_pk=charge_point.pk,
        events=[
            services.EventData(event_id=1, trigger="Alerting", actual_value="95", **common),
            services.EventData(event_id=2, trigger="Periodic", actual_value="40", **common),
        ],
    )
    return charge_point


def get(client, path):
    return sync_to_async(client.get, thread_sensitive=False)(path)


async def test_events_are_listed_per_charge_point_and_filtered_to_open_problems():
    await reported()
    client = await sync_to_async(client_for)(
        await sync_to_async(make_operator)("devicemodel.view_deviceevent")
    )
    response = await get(client, f"{BASE}events/?open_problem=true")
    assert response.status_code == 200, response.content
    rows = response.json()["results"]
    assert [(r["event_id"], r["variable"], r["is_problem"]) for r in rows] == [
        (1, "EVSE/EVSE 1.Temp", True)
    ]
    driver = await sync_to_async(client_for)(await sync_to_async(make_driver)())
    assert (await get(driver, f"{BASE}events/")).status_code == 403


async def test_the_console_lists_open_problems_and_closes_them():
    await reported()
    client = await signed_in()
    changelist = reverse("admin:devicemodel_deviceevent_changelist")
    response = await request(client, "get", changelist, {"open_problem": "yes"})
    assert response.status_code == 200
    assert "95" in response.content.decode()
    problem = await DeviceEvent.objects.aget(event_id=1)
    response = await request(
        client,
        "post",
        changelist,
        {"action": "close_problems", "_selected_action": [problem.pk]},
    )
    assert response.status_code == 200
    assert (await DeviceEvent.objects.aget(event_id=1)).cleared_at is not None
    for model in ("variablemonitor", "monitoringreport", "displaymessage", "customerinformation"):
        page = await request(client, "get", reverse(f"admin:devicemodel_{model}_changelist"))
        assert page.status_code == 200, model


async def test_the_console_form_sets_a_display_message(charge_point_socket):
    socket = await station_201(charge_point_socket)
    await ChargePoint.objects.filter(charge_point_id="CP201").aupdate(ocpp_version="2.0.1")
    client = await signed_in()
    form = {
        "charge_point": "CP201",
        "message_id": 3,
        "priority": "InFront",
        "state": "",
        "format": "UTF8",
        "language": "de",
        "content": "Willkommen",
    }
    pending = request(client, "post", reverse("admin:devicemodel_displaymessage_set"), form)
    frame = await next_call(socket, "SetDisplayMessage")
    assert frame[3] == {
        "message": {
            "id": 3,
            "priority": "InFront",
            "message": {"format": "UTF8", "content": "Willkommen", "language": "de"},
        }
    }
    await answer(socket, frame, {"status": "Accepted"})
    response = await asyncio.wait_for(pending, 10)
    assert response.status_code == 200
    message = await DisplayMessage.objects.aget()
    assert (message.message_id, message.content, message.set_status) == (
        3,
        "Willkommen",
        "Accepted",
    )

"""The device model in the console: browse, set a value, ask for a report."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client
from django.urls import reverse

from devicemodel.models import (
    BootRecord,
    DeviceReport,
    DeviceVariable,
    NetworkProfile,
    ResetRecord,
    VariableAttribute,
)
from ocpp_consumer.models import Command
from ocpp_consumer.tests.test_api_commands import answer, next_call
from ocpp_consumer.tests.v201.station import station_201
from stations.models import ChargePoint

pytestmark = pytest.mark.django_db(transaction=True)


def _url(model, view, *args):
    return reverse(f"admin:devicemodel_{model._meta.model_name}_{view}", args=args)


@sync_to_async
def device_model():
    """CP201 (2.0.1) with a writable integer and a read-only variable; CP-B with one more."""
    charge_point, _ = ChargePoint.objects.get_or_create(
        charge_point_id="CP201", defaults={"ocpp_version": "2.0.1"}
    )
    heartbeat = DeviceVariable.objects.create(
        charge_point=charge_point,
        component="OCPPCommCtrlr",
        name="HeartbeatInterval",
        data_type="integer",
        unit="s",
        min_limit=10,
        max_limit=3600,
    )
    writable = VariableAttribute.objects.create(
        variable=heartbeat, value="300", mutability="ReadWrite"
    )
    model = DeviceVariable.objects.create(
        charge_point=charge_point, component="ChargingStation", name="Model", data_type="string"
    )
    read_only = VariableAttribute.objects.create(
        variable=model, value="W-201", mutability="ReadOnly"
    )
    other = ChargePoint.objects.create(charge_point_id="CP-B", ocpp_version="2.0.1")
    elsewhere = DeviceVariable.objects.create(
        charge_point=other, component="TxCtrlr", name="EVConnectionTimeOut"
    )
    VariableAttribute.objects.create(variable=elsewhere, value="60")
    return charge_point, writable, read_only


@sync_to_async
def signed_in() -> Client:
    client = Client()
    client.force_login(
        get_user_model().objects.create_superuser("root", "root@example.com", "x" * 20)
    )
    return client


def _request(client, method, path, data=None):
    try:
        return getattr(client, method)(path, data or {}, follow=method == "post")
    finally:
        connections.close_all()


def request(client, method, path, data=None) -> asyncio.Task:
    """Run the admin view in a worker thread, as Daphne runs a sync view (started now)."""
    call = sync_to_async(_request, thread_sensitive=False)
    return asyncio.ensure_future(call(client, method, path, data))


async def test_the_device_model_is_browsed_per_charge_point_and_searched():
    charge_point, _, _ = await device_model()
    client = await signed_in()
    changelist = _url(VariableAttribute, "changelist")
    response = await request(
        client, "get", changelist, {"variable__charge_point__id__exact": charge_point.pk}
    )
    assert response.status_code == 200
    page = response.content.decode()
    for shown in ("OCPPCommCtrlr", "HeartbeatInterval", "300", "Read-write", "integer", "W-201"):
        assert shown in page
    assert "EVConnectionTimeOut" not in page
    response = await request(client, "get", changelist, {"q": "heartbeat"})
    assert "HeartbeatInterval" in response.content.decode()
    assert "W-201" not in response.content.decode()


async def test_a_read_only_attribute_cannot_be_set():
    _, _, read_only = await device_model()
    client = await signed_in()
    response = await request(client, "get", _url(VariableAttribute, "change", read_only.pk))
    assert response.status_code == 200
    assert _url(VariableAttribute, "set", read_only.pk) not in response.content.decode()
    response = await request(
        client, "post", _url(VariableAttribute, "set", read_only.pk), {"value": "X"}
    )
    assert response.status_code == 403
    assert not await Command.objects.aexists()


async def test_a_value_out_of_range_is_refused_unsent():
    _, writable, _ = await device_model()
    client = await signed_in()
    response = await request(client, "get", _url(VariableAttribute, "change", writable.pk))
    assert _url(VariableAttribute, "set", writable.pk) in response.content.decode()
    response = await request(client, "get", _url(VariableAttribute, "set", writable.pk))
    assert response.status_code == 200 and "10 … 3600" in response.content.decode()
    response = await request(
        client, "post", _url(VariableAttribute, "set", writable.pk), {"value": "5"}
    )
    assert response.status_code == 200
    assert "must be at least 10" in response.content.decode()
    assert not await Command.objects.aexists()


async def test_setting_a_value_sends_set_variables_and_shows_the_outcome(charge_point_socket):
    _, writable, _ = await device_model()
    socket = await station_201(charge_point_socket)
    client = await signed_in()
    pending = request(client, "post", _url(VariableAttribute, "set", writable.pk), {"value": "120"})
    frame = await next_call(socket, "SetVariables")
    asked = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    assert frame[3] == {
        "setVariableData": [{"attributeType": "Actual", "attributeValue": "120", **asked}]
    }
    await answer(socket, frame, {"setVariableResult": [{"attributeStatus": "Accepted", **asked}]})
    response = await pending
    assert response.status_code == 200
    assert "SetVariables" in response.content.decode() and "Accepted" in response.content.decode()
    attribute = await VariableAttribute.objects.aget(pk=writable.pk)
    assert (attribute.value, attribute.set_status) == ("120", "Accepted")


async def test_setting_on_a_charge_point_not_connected_says_so():
    _, writable, _ = await device_model()
    client = await signed_in()
    response = await request(
        client, "post", _url(VariableAttribute, "set", writable.pk), {"value": "120"}
    )
    assert "not connected" in response.content.decode()
    assert (await VariableAttribute.objects.aget(pk=writable.pk)).value == "300"


async def test_a_report_is_asked_for_with_a_fresh_request_id(charge_point_socket):
    charge_point, _, _ = await device_model()
    socket = await station_201(charge_point_socket)
    client = await signed_in()
    form = {"charge_point": charge_point.pk, "report_base": "ConfigurationInventory"}
    pending = request(client, "post", reverse("admin:devicemodel_devicereport_request"), form)
    frame = await next_call(socket, "GetBaseReport")
    assert frame[3] == {"requestId": 1, "reportBase": "ConfigurationInventory"}
    await answer(socket, frame, {"status": "Accepted"})
    response = await pending
    assert "Report #1 requested." in response.content.decode()
    report = await DeviceReport.objects.aget()
    assert (report.request_id, report.status) == (1, "Accepted")


async def test_the_records_pages_render():
    charge_point, _, _ = await device_model()

    @sync_to_async
    def records():
        BootRecord.objects.create(
            charge_point=charge_point, reason="PowerUp", registration_status="Accepted"
        )
        DeviceReport.objects.create(
            charge_point=charge_point, request_id=3, report_base="FullInventory"
        )
        NetworkProfile.objects.create(
            charge_point=charge_point, configuration_slot=1, last_status="Accepted"
        )
        ResetRecord.objects.create(
            charge_point=charge_point, reset_type="Immediate", status="Accepted"
        )

    await records()
    client = await signed_in()
    for model in (BootRecord, DeviceReport, NetworkProfile, ResetRecord):
        response = await request(client, "get", _url(model, "changelist"))
        assert response.status_code == 200, model
        assert "CP201" in response.content.decode()
    response = await request(client, "get", reverse("admin:devicemodel_devicereport_request"))
    assert response.status_code == 200

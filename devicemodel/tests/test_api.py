"""The device model in the API: list it, set a value, ask for a report.

Commands reach a station on a WebsocketCommunicator speaking ocpp2.0.1; the
API request runs in a worker thread, as under Daphne.
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from api_support.testing import client_for, make_driver, make_operator
from devicemodel.models import DeviceReport, DeviceVariable, VariableAttribute
from ocpp_consumer.models import Command
from ocpp_consumer.tests.test_api_commands import answer, api_post, next_call, operator_client
from ocpp_consumer.tests.v201.station import station_201
from stations.models import ChargePoint

pytestmark = pytest.mark.django_db(transaction=True)

BASE = "/api/v1/charge-points/CP201/"


@sync_to_async
def known_heartbeat(charge_point_id="CP201", mutability="ReadWrite"):
    charge_point, _ = ChargePoint.objects.get_or_create(
        charge_point_id=charge_point_id, defaults={"ocpp_version": "2.0.1"}
    )
    variable = DeviceVariable.objects.create(
        charge_point=charge_point,
        component="OCPPCommCtrlr",
        name="HeartbeatInterval",
        data_type="integer",
        unit="s",
        min_limit=10,
        max_limit=3600,
    )
    VariableAttribute.objects.create(variable=variable, value="300", mutability=mutability)
    evse_variable = DeviceVariable.objects.create(
        charge_point=charge_point, component="EVSE", evse_id=1, name="Power", unit="W"
    )
    VariableAttribute.objects.create(variable=evse_variable, value="22000", mutability="ReadOnly")


@sync_to_async
def get(client, path):
    return client.get(path)


async def test_operators_list_a_charge_points_variables_filtered(charge_point_socket):
    await known_heartbeat()
    client = await sync_to_async(client_for)(
        await sync_to_async(make_operator)("devicemodel.view_devicevariable")
    )
    response = await get(client, f"{BASE}variables/")
    assert response.status_code == 200
    assert response.json()["count"] == 2
    response = await get(client, f"{BASE}variables/?component=ocppcommctrlr")
    [variable] = response.json()["results"]
    assert {k: variable[k] for k in ("component", "variable", "evse_id", "data_type", "unit")} == {
        "component": "OCPPCommCtrlr",
        "variable": "HeartbeatInterval",
        "evse_id": None,
        "data_type": "integer",
        "unit": "s",
    }
    assert variable["attributes"][0]["value"] == "300"
    assert variable["attributes"][0]["mutability"] == "ReadWrite"
    response = await get(client, f"{BASE}variables/?variable=Power")
    assert [v["evse_id"] for v in response.json()["results"]] == [1]
    assert (await get(client, "/api/v1/charge-points/NOPE/variables/")).status_code == 404


async def test_drivers_and_operators_without_the_permission_see_no_device_model():
    await known_heartbeat()
    driver = await sync_to_async(client_for)(await sync_to_async(make_driver)())
    assert (await get(driver, f"{BASE}variables/")).status_code == 403
    operator = await sync_to_async(client_for)(await sync_to_async(make_operator)())
    assert (await get(operator, f"{BASE}variables/")).status_code == 403


async def test_setting_a_variable_sends_set_variables_and_stores_the_accepted_value(
    charge_point_socket,
):
    socket = await station_201(charge_point_socket)
    await known_heartbeat()
    client = await operator_client()
    pending = api_post(
        client,
        f"{BASE}variables/set/",
        {"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval", "value": "120"},
    )
    frame = await next_call(socket, "SetVariables")
    asked = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    assert frame[3] == {
        "setVariableData": [{"attributeType": "Actual", "attributeValue": "120", **asked}]
    }
    await answer(socket, frame, {"setVariableResult": [{"attributeStatus": "Accepted", **asked}]})
    response = await pending
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "Accepted"
    assert response.json()["response"]["set_variable_result"][0]["attribute_status"] == "Accepted"
    attribute = await VariableAttribute.objects.aget(variable__name="HeartbeatInterval")
    assert (attribute.value, attribute.set_status) == ("120", "Accepted")


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"value": "5"}, {"value": ["must be at least 10"]}),
        ({"value": "ten"}, {"value": ["must be a whole number"]}),
        (
            {"component": "EVSE", "evse_id": 1, "variable": "Power", "value": "1"},
            {"variable": ["This attribute is read-only."]},
        ),
        ({"connector_id": 1, "value": "60"}, {"connector_id": ["Needs evse_id."]}),
    ],
)
async def test_a_value_the_characteristics_rule_out_is_refused_unsent(
    charge_point_socket, body, errors
):
    await station_201(charge_point_socket)
    await known_heartbeat()
    client = await operator_client()
    body = {"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval", **body}
    response = await api_post(client, f"{BASE}variables/set/", body)
    assert response.status_code == 400
    assert response.json() == errors
    assert not await Command.objects.filter(action="SetVariables").aexists()


async def test_setting_on_a_charge_point_not_connected_is_409():
    await known_heartbeat()
    client = await operator_client()
    body = {"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval", "value": "60"}
    response = await api_post(client, f"{BASE}variables/set/", body)
    assert response.status_code == 409


async def test_a_report_request_gets_its_request_id_here(charge_point_socket):
    socket = await station_201(charge_point_socket)
    client = await operator_client()
    for expected_id in (1, 2):
        pending = api_post(client, f"{BASE}variables/report/", {})
        frame = await next_call(socket, "GetBaseReport")
        assert frame[3] == {"requestId": expected_id, "reportBase": "FullInventory"}
        await answer(socket, frame, {"status": "Accepted"})
        response = await pending
        assert response.status_code == 200, response.content
        assert response.json()["request_id"] == expected_id
        assert response.json()["status"] == "Accepted"
    part = {
        "requestId": 2,
        "generatedAt": "2026-01-01T00:00:00Z",
        "seqNo": 0,
        "reportData": [
            {
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
                "variableAttribute": [{"value": "300"}],
            }
        ],
    }
    await socket.call("NotifyReport", part, "n1")
    reports = (
        await get(await operator_client("devicemodel.view_devicereport"), f"{BASE}reports/")
    ).json()
    assert [(r["request_id"], r["status"], r["parts_received"]) for r in reports["results"]] == [
        (2, "Complete", 1),
        (1, "Accepted", 0),
    ]
    assert await DeviceReport.objects.acount() == 2


async def test_a_report_asked_of_a_charge_point_not_connected_frees_its_request_id():
    await known_heartbeat()
    client = await operator_client()
    response = await api_post(client, f"{BASE}variables/report/", {})
    assert response.status_code == 409
    assert not await DeviceReport.objects.aexists()

"""OCPP 2.0.1 provisioning against real Daphne: boot, status, the device model by command.

The charging station is the `ocpp` package's v201 ChargePoint over
`websockets`; the operator's commands go through the HTTP API of the same
Daphne process (the command endpoints and the device model's own).
"""

import asyncio
import json
import urllib.request

import pytest
import websockets
from django.contrib.auth import get_user_model
from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action
from rest_framework.authtoken.models import Token

from csms_project import testing
from devicemodel.models import BootRecord, DeviceReport, ResetRecord, VariableAttribute
from stations.models import Connector

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

STATION_ID = "E2E-PROV-201"
HEARTBEAT = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
OFFLINE_THRESHOLD = {
    "component": {"name": "OCPPCommCtrlr"},
    "variable": {"name": "OfflineThreshold"},
}


def report_item(component: dict, variable: str, value: str, **characteristics) -> dict:
    return {
        "component": component,
        "variable": {"name": variable},
        "variable_attribute": [{"type": "Actual", "value": value, "mutability": "ReadWrite"}],
        "variable_characteristics": {"supports_monitoring": False, **characteristics},
    }


class Station(ChargePoint):
    """Answers like a real station: reports in two parts, values it keeps, resets."""

    values = {"HeartbeatInterval": "300", "OfflineThreshold": "60"}
    resets: list[str] = []

    @on(Action.get_base_report)
    def on_get_base_report(self, request_id, report_base, **_):
        return call_result.GetBaseReport(status="Accepted")

    @after(Action.get_base_report)
    async def send_report(self, request_id, report_base, **_):
        parts = [
            [
                report_item(
                    {"name": "OCPPCommCtrlr"},
                    "HeartbeatInterval",
                    self.values["HeartbeatInterval"],
                    data_type="integer",
                    unit="s",
                    min_limit=10,
                    max_limit=86400,
                )
            ],
            [
                report_item(
                    {"name": "OCPPCommCtrlr"}, "OfflineThreshold", "60", data_type="integer"
                ),
                report_item(
                    {"name": "EVSE", "evse": {"id": 1}},
                    "AvailabilityState",
                    "Available",
                    data_type="OptionList",
                    values_list="Available,Occupied,Reserved,Unavailable,Faulted",
                ),
            ],
        ]
        for seq_no, report_data in enumerate(parts):
            await self.call(
                call.NotifyReport(
                    request_id=request_id,
                    generated_at="2026-11-26T10:00:00Z",
                    seq_no=seq_no,
                    tbc=seq_no < len(parts) - 1,
                    report_data=report_data,
                )
            )

    @on(Action.get_variables)
    def on_get_variables(self, get_variable_data, **_):
        return call_result.GetVariables(
            get_variable_result=[
                {
                    "attribute_status": "Accepted",
                    "attribute_value": self.values[data["variable"]["name"]],
                    "component": data["component"],
                    "variable": data["variable"],
                }
                for data in get_variable_data
            ]
        )

    @on(Action.set_variables)
    def on_set_variables(self, set_variable_data, **_):
        results = []
        for data in set_variable_data:
            self.values[data["variable"]["name"]] = data["attribute_value"]
            reboot = data["variable"]["name"] == "HeartbeatInterval"
            results.append(
                {
                    "attribute_type": data.get("attribute_type", "Actual"),
                    "attribute_status": "RebootRequired" if reboot else "Accepted",
                    "component": data["component"],
                    "variable": data["variable"],
                }
            )
        return call_result.SetVariables(set_variable_result=results)

    @on(Action.reset)
    def on_reset(self, **request):
        self.resets.append(request["type"])
        return call_result.Reset(status="Accepted")


def api(base_url: str, token: str, path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{base_url}/api/v1/charge-points/{STATION_ID}/{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


async def wait_for(predicate, timeout: float = 15.0):
    return await asyncio.to_thread(testing.wait_until, predicate, timeout)


async def play(ws_url: str, base_url: str, token: str) -> dict:
    answers = {}

    async def post(path: str, body: dict) -> dict:
        status, answer = await asyncio.to_thread(api, base_url, token, path, body)
        assert status == 200, answer
        return answer

    async with websockets.connect(ws_url, subprotocols=["ocpp2.0.1"]) as ws:
        station = Station(STATION_ID, ws, response_timeout=15)
        listener = asyncio.create_task(station.start())
        try:
            boot = await station.call(
                call.BootNotification(
                    charging_station={"vendor_name": "E2EVendor", "model": "Prov-201"},
                    reason="PowerUp",
                )
            )
            answers["boot"] = boot.status
            await station.call(call.Heartbeat())
            for connector_id, status in ((1, "Available"), (2, "Occupied")):
                await station.call(
                    call.StatusNotification(
                        timestamp=f"2026-11-26T10:00:0{connector_id}Z",
                        connector_status=status,
                        evse_id=1,
                        connector_id=connector_id,
                    )
                )
            answers["base_report"] = await post(
                "commands/get-base-report/", {"request_id": 1, "report_base": "FullInventory"}
            )
            await wait_for(
                lambda: DeviceReport.objects.filter(request_id=1, status="Complete").exists()
            )
            station.values["HeartbeatInterval"] = "240"  # changed locally since the report
            answers["get"] = await post(
                "commands/get-variables/", {"get_variable_data": [HEARTBEAT]}
            )
            answers["set_command"] = await post(
                "commands/set-variables/",
                {"set_variable_data": [{**OFFLINE_THRESHOLD, "attribute_value": "120"}]},
            )
            answers["set_variable"] = await post(
                "variables/set/",
                {"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval", "value": "90"},
            )
            answers["reset"] = await post("commands/reset/", {"type": "Immediate"})
            answers["report_again"] = await post("variables/report/", {})
            await wait_for(
                lambda: DeviceReport.objects.filter(request_id=2, status="Complete").exists()
            )
            # The reset done: it boots again, and says why.
            await station.call(
                call.BootNotification(
                    charging_station={"vendor_name": "E2EVendor", "model": "Prov-201"},
                    reason="RemoteReset",
                )
            )
        finally:
            listener.cancel()
    answers["resets"] = list(station.resets)
    return answers


def value_of(variable: str) -> VariableAttribute:
    return VariableAttribute.objects.get(variable__name=variable, type="Actual")


def test_provisioning_and_the_device_model_over_real_daphne(tmp_path):
    operator = get_user_model().objects.create_user(
        "ops", password="x" * 20, is_staff=True, is_superuser=True
    )
    token = Token.objects.create(user=operator).key
    env = testing.process_env(OCPP_AUTO_REGISTER="1")
    with testing.daphne_node(env, tmp_path) as base_url:
        ws_url = base_url.replace("http://", "ws://") + f"/ocpp/{STATION_ID}"
        answers = asyncio.run(play(ws_url, base_url, token))
        # The server records the disconnect after the socket closes: wait for it before
        # the server stops, or the record is cut short by the test, not by the product.
        testing.wait_until(
            lambda: (
                Connector.objects.get(
                    charge_point__charge_point_id=STATION_ID, connector_id=1
                ).status
                == "Unavailable"
            ),
            timeout=15,
        )

    assert answers["boot"] == "Accepted"
    assert answers["base_report"] == {"status": "Accepted", "response": {"status": "Accepted"}}
    assert answers["get"]["response"]["get_variable_result"][0]["attribute_value"] == "240"
    assert answers["set_command"]["response"]["set_variable_result"][0]["attribute_status"] == (
        "Accepted"
    )
    assert answers["set_variable"]["status"] == "RebootRequired"
    assert answers["reset"]["status"] == "Accepted" and answers["resets"] == ["Immediate"]
    assert answers["report_again"]["request_id"] == 2

    assert [b.reason for b in BootRecord.objects.order_by("id")] == ["PowerUp", "RemoteReset"]
    evse = Connector.objects.get(charge_point__charge_point_id=STATION_ID, connector_id=1)
    assert evse.evse_connector_statuses == {"1": "Available", "2": "Occupied"}
    assert evse.status == "Unavailable"  # the station has disconnected
    history = evse.status_log.order_by("id").values_list("status", "info")
    assert list(history) == [
        ("Available", "connector 1: Available"),
        ("Preparing", "connector 2: Occupied"),
    ]

    first = DeviceReport.objects.get(request_id=1)
    assert (first.report_base, first.parts_received, first.variables_reported) == (
        "FullInventory",
        2,
        3,
    )
    assert first.completed_at is not None
    heartbeat = value_of("HeartbeatInterval")
    assert heartbeat.variable.data_type == "integer" and heartbeat.variable.unit == "s"
    # Set to 90 (RebootRequired), reported 90 by the second report, applied by the reboot.
    assert (heartbeat.value, heartbeat.set_status, heartbeat.reboot_required) == (
        "90",
        "RebootRequired",
        False,
    )
    assert (value_of("OfflineThreshold").value, value_of("OfflineThreshold").set_status) == (
        "60",  # the second report's value: our station reports a fixed 60
        "Accepted",
    )
    assert value_of("AvailabilityState").variable.evse_id == 1
    assert list(ResetRecord.objects.values_list("reset_type", "status")) == [
        ("Immediate", "Accepted")
    ]

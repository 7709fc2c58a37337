"""OCPP 2.0.1 provisioning: boots with their reason, Pending onboarding, EVSE status, reports.

A charging station on a WebsocketCommunicator speaking ocpp2.0.1; every
answer is the exact frame, valid against the official 2.0.1 schema.
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from devicemodel.models import BootRecord, DeviceReport, DeviceVariable, VariableAttribute
from stations.models import ChargePoint, Connector, ConnectorStatusLog

from ..conftest import assert_call_error
from .station import answer_201, station_201

pytestmark = pytest.mark.django_db(transaction=True)


def boot_payload(reason: str) -> dict:
    return {
        "reason": reason,
        "chargingStation": {"vendorName": "ACME", "model": "Wall 201", "firmwareVersion": "2.1"},
    }


def status(evse_id: int, connector_id: int, connector_status: str, at: str) -> dict:
    return {
        "timestamp": at,
        "connectorStatus": connector_status,
        "evseId": evse_id,
        "connectorId": connector_id,
    }


def report_data(component: str, variable: str, value: str, **extra) -> dict:
    data = {
        "component": {"name": component},
        "variable": {"name": variable},
        "variableAttribute": [{"type": "Actual", "value": value, "mutability": "ReadWrite"}],
    }
    data.update(extra)
    return data


async def test_boots_are_kept_with_their_reason(charge_point_socket):
    socket = await station_201(charge_point_socket)  # PowerUp
    answer = await answer_201(socket, "BootNotification", boot_payload("RemoteReset"), "b2")
    assert answer["status"] == "Accepted"
    boots = [
        (b.reason, b.registration_status, b.firmware_version)
        async for b in BootRecord.objects.filter(charge_point__charge_point_id="CP201").order_by(
            "id"
        )
    ]
    assert boots == [("PowerUp", "Accepted", ""), ("RemoteReset", "Accepted", "2.1")]


@pytest.mark.secure_defaults
async def test_a_pending_station_may_send_only_its_boot_and_the_report_asked_of_it(
    charge_point_socket,
):
    socket = await charge_point_socket("CP-NEW", boot=False, subprotocols=["ocpp2.0.1"])
    answer = await answer_201(socket, "BootNotification", boot_payload("PowerUp"), "b1")
    assert answer["status"] == "Pending"
    frame = await socket.call("Heartbeat", {}, "h1")
    assert_call_error(frame, "h1", "SecurityError")
    frame = await socket.call(
        "StatusNotification", status(1, 1, "Available", "2026-01-01T00:00:00Z"), "s1"
    )
    assert_call_error(frame, "s1", "SecurityError")
    # The CSMS may ask for the device model while Pending; the parts are taken.
    part = {
        "requestId": 1,
        "generatedAt": "2026-01-01T00:00:00Z",
        "seqNo": 0,
        "reportData": [report_data("OCPPCommCtrlr", "HeartbeatInterval", "300")],
    }
    assert await answer_201(socket, "NotifyReport", part, "r1") == {}
    assert await DeviceVariable.objects.filter(charge_point__charge_point_id="CP-NEW").acount() == 1


@pytest.mark.secure_defaults
async def test_a_rejected_station_gets_nothing_but_boot_answers(charge_point_socket):
    await ChargePoint.objects.acreate(charge_point_id="CP-NO", registration_status="Rejected")
    socket = await charge_point_socket("CP-NO", boot=False, subprotocols=["ocpp2.0.1"])
    answer = await answer_201(socket, "BootNotification", boot_payload("PowerUp"), "b1")
    assert answer["status"] == "Rejected"
    part = {"requestId": 1, "generatedAt": "2026-01-01T00:00:00Z", "seqNo": 0}
    assert_call_error(await socket.call("NotifyReport", part, "r1"), "r1", "SecurityError")


async def test_an_evse_status_follows_its_plugs(charge_point_socket):
    socket = await station_201(charge_point_socket)
    reports = [
        (1, 1, "Available", "2026-01-01T10:00:00Z"),
        (1, 2, "Available", "2026-01-01T10:00:01Z"),
        (1, 2, "Occupied", "2026-01-01T10:01:00Z"),
        (1, 1, "Faulted", "2026-01-01T10:02:00Z"),
        (1, 1, "Available", "2026-01-01T10:03:00Z"),
        (2, 1, "Reserved", "2026-01-01T10:04:00Z"),
    ]
    for n, (evse, plug, plug_status, at) in enumerate(reports):
        assert (
            await answer_201(
                socket, "StatusNotification", status(evse, plug, plug_status, at), f"s{n}"
            )
            == {}
        )

    evse_1 = await Connector.objects.aget(charge_point__charge_point_id="CP201", connector_id=1)
    assert evse_1.evse_connector_statuses == {"1": "Available", "2": "Occupied"}
    assert evse_1.status == "Preparing"  # occupied, no session running
    history = [
        (entry.status, entry.error_code, entry.info)
        async for entry in ConnectorStatusLog.objects.filter(connector=evse_1).order_by("id")
    ]
    assert history == [
        ("Available", "NoError", "connector 1: Available"),
        ("Available", "NoError", "connector 2: Available"),
        ("Preparing", "NoError", "connector 2: Occupied"),
        ("Faulted", "OtherError", "connector 1: Faulted"),
        ("Preparing", "NoError", "connector 1: Available"),
    ]
    evse_2 = await Connector.objects.aget(charge_point__charge_point_id="CP201", connector_id=2)
    assert (evse_2.status, evse_2.evse_connector_statuses) == ("Reserved", {"1": "Reserved"})


async def test_a_stale_plug_status_is_logged_but_changes_nothing(charge_point_socket):
    socket = await station_201(charge_point_socket)
    await answer_201(
        socket, "StatusNotification", status(1, 1, "Faulted", "2026-01-01T10:00:00Z"), "s1"
    )
    await answer_201(
        socket, "StatusNotification", status(1, 1, "Available", "2026-01-01T09:00:00Z"), "s2"
    )
    evse = await Connector.objects.aget(charge_point__charge_point_id="CP201", connector_id=1)
    assert (evse.status, evse.evse_connector_statuses) == ("Faulted", {"1": "Faulted"})
    assert await ConnectorStatusLog.objects.filter(connector=evse).acount() == 2


async def test_a_report_in_parts_is_assembled_by_request_id(charge_point_socket):
    socket = await station_201(charge_point_socket)
    first = {
        "requestId": 42,
        "generatedAt": "2026-01-01T00:00:00Z",
        "tbc": True,
        "seqNo": 0,
        "reportData": [
            report_data(
                "OCPPCommCtrlr",
                "HeartbeatInterval",
                "300",
                variableCharacteristics={
                    "unit": "s",
                    "dataType": "integer",
                    "minLimit": 10,
                    "maxLimit": 86400,
                    "supportsMonitoring": False,
                },
            ),
            {
                "component": {"name": "EVSE", "evse": {"id": 1}},
                "variable": {"name": "AvailabilityState"},
                "variableAttribute": [{"value": "Available", "mutability": "ReadOnly"}],
                "variableCharacteristics": {
                    "dataType": "OptionList",
                    "valuesList": "Available,Occupied,Reserved,Unavailable,Faulted",
                    "supportsMonitoring": True,
                },
            },
        ],
    }
    assert await answer_201(socket, "NotifyReport", first, "p0") == {}
    report = await DeviceReport.objects.aget(charge_point__charge_point_id="CP201", request_id=42)
    assert (report.status, report.parts_received, report.completed_at) == ("Receiving", 1, None)

    last = {
        "requestId": 42,
        "generatedAt": "2026-01-01T00:00:01Z",
        "seqNo": 1,
        "reportData": [
            {
                "component": {"name": "SecurityCtrlr"},
                "variable": {"name": "BasicAuthPassword"},
                "variableAttribute": [{"value": "s3cret-s3cret", "mutability": "WriteOnly"}],
            },
            {
                "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 2}},
                "variable": {"name": "ConnectorType"},
                "variableAttribute": [
                    {
                        "type": "Actual",
                        "value": "cType2",
                        "mutability": "ReadOnly",
                        "constant": True,
                    }
                ],
            },
        ],
    }
    assert await answer_201(socket, "NotifyReport", last, "p1") == {}
    report = await DeviceReport.objects.aget(pk=report.pk)
    assert (report.status, report.parts_received, report.last_seq_no) == ("Complete", 2, 1)
    assert report.variables_reported == 4 and report.missing_parts == 0
    assert report.completed_at is not None

    @sync_to_async
    def device_model():
        return {
            (a.variable.path, a.type): (
                a.value,
                a.mutability,
                a.constant,
                a.variable.data_type,
                a.variable.unit,
            )
            for a in VariableAttribute.objects.select_related("variable")
        }

    assert await device_model() == {
        ("OCPPCommCtrlr.HeartbeatInterval", "Actual"): ("300", "ReadWrite", False, "integer", "s"),
        ("EVSE/EVSE 1.AvailabilityState", "Actual"): (
            "Available",
            "ReadOnly",
            False,
            "OptionList",
            "",
        ),
        ("SecurityCtrlr.BasicAuthPassword", "Actual"): ("********", "WriteOnly", False, "", ""),
        ("Connector/EVSE 1/connector 2.ConnectorType", "Actual"): (
            "cType2",
            "ReadOnly",
            True,
            "",
            "",
        ),
    }
    variable = await DeviceVariable.objects.aget(name="HeartbeatInterval")
    assert (variable.min_limit, variable.max_limit, variable.report_request_id) == (10, 86400, 42)

    # A later report of the same variable updates the one row.
    again = {**first, "requestId": 43, "tbc": False}
    again["reportData"] = [report_data("OCPPCommCtrlr", "HeartbeatInterval", "600")]
    await answer_201(socket, "NotifyReport", again, "p2")
    assert await DeviceVariable.objects.filter(name="HeartbeatInterval").acount() == 1
    attribute = await VariableAttribute.objects.aget(variable__name="HeartbeatInterval")
    assert attribute.value == "600"

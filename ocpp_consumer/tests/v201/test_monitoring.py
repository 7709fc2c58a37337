"""OCPP 2.0.1 monitoring, NotifyEvent and customer information through a station's socket.

Commands go through `commands.command_send` to a station on a
WebsocketCommunicator, which answers them; every frame is asserted exactly.
"""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from devicemodel.models import (
    CustomerInformation,
    DeviceEvent,
    MonitoringReport,
    MonitoringSetting,
    VariableMonitor,
)
from monitoring.selectors import ALARM_DEVICE_PROBLEM, system_alarms
from ocpp_consumer import commands

from ..test_api_commands import answer, next_call
from .station import answer_201, station_201

pytestmark = pytest.mark.django_db(transaction=True)

TEMPERATURE = {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Temp"}}
POWER = {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"}}


async def exchange(socket, action: str, payload: dict, reply: dict):
    """Send a command, check its exact CALL, answer it as the station; its record."""
    sending = asyncio.ensure_future(
        commands.command_send(charge_point_id="CP201", action=action, payload=payload)
    )
    frame = await next_call(socket, action)
    assert frame[3] == payload
    await answer(socket, frame, reply)
    command = await sending
    assert command.status == "answered", command.error_description
    return command


async def monitors() -> list[tuple]:
    rows = VariableMonitor.objects.select_related("variable").order_by("type")
    return [
        (m.variable.name, m.monitor_id, m.type, m.value, m.severity, m.set_status)
        async for m in rows
    ]


async def test_monitors_set_are_stored_with_the_station_ids_and_refusals(charge_point_socket):
    socket = await station_201(charge_point_socket)
    request = {
        "setMonitoringData": [
            {"value": 80, "type": "UpperThreshold", "severity": 2, **TEMPERATURE},
            {"value": 500, "type": "Delta", "severity": 8, **POWER},
        ]
    }
    reply = {
        "setMonitoringResult": [
            {"id": 7, "status": "Accepted", "type": "UpperThreshold", "severity": 2, **TEMPERATURE},
            {"status": "UnsupportedMonitorType", "type": "Delta", "severity": 8, **POWER},
        ]
    }
    await exchange(socket, "SetVariableMonitoring", request, reply)

    assert await monitors() == [
        ("Power", None, "Delta", 500.0, 8, "UnsupportedMonitorType"),
        ("Temp", 7, "UpperThreshold", 80.0, 2, "Accepted"),
    ]


async def test_a_monitoring_report_in_parts_then_a_clear(charge_point_socket):
    socket = await station_201(charge_point_socket)
    await exchange(
        socket,
        "GetMonitoringReport",
        {"requestId": 3, "monitoringCriteria": ["ThresholdMonitoring"]},
        {"status": "Accepted"},
    )
    assert (await MonitoringReport.objects.aget(request_id=3)).status == "Accepted"

    def part(seq_no: int, data: dict, monitor: dict, **tbc) -> dict:
        return {
            "requestId": 3,
            "seqNo": seq_no,
            "generatedAt": "2026-01-01T00:00:00Z",
            "monitor": [{**data, "variableMonitoring": [monitor]}],
            **tbc,
        }

    upper = {"id": 1, "transaction": False, "value": 90, "type": "UpperThreshold", "severity": 3}
    lower = {"id": 2, "transaction": True, "value": 5, "type": "LowerThreshold", "severity": 6}
    assert (
        await answer_201(
            socket, "NotifyMonitoringReport", part(0, TEMPERATURE, upper, tbc=True), "p0"
        )
        == {}
    )
    report = await MonitoringReport.objects.aget(request_id=3)
    assert (report.status, report.parts_received) == ("Receiving", 1)
    assert await answer_201(socket, "NotifyMonitoringReport", part(1, POWER, lower), "p1") == {}
    report = await MonitoringReport.objects.aget(request_id=3)
    assert (report.status, report.parts_received, report.monitors_reported) == ("Complete", 2, 2)
    assert await monitors() == [
        ("Power", 2, "LowerThreshold", 5.0, 6, ""),
        ("Temp", 1, "UpperThreshold", 90.0, 3, ""),
    ]

    reply = {
        "clearMonitoringResult": [
            {"id": 1, "status": "Accepted"},
            {"id": 2, "status": "Rejected"},
        ]
    }
    await exchange(socket, "ClearVariableMonitoring", {"id": [1, 2]}, reply)
    assert [m[1] for m in await monitors()] == [2]  # the refused clear keeps its monitor


async def test_monitoring_base_and_level(charge_point_socket):
    socket = await station_201(charge_point_socket)
    await exchange(
        socket,
        "SetVariableMonitoring",
        {"setMonitoringData": [{"value": 80, "type": "UpperThreshold", "severity": 2, **TEMPERATURE}]},
        {"setMonitoringResult": [{"id": 7, "status": "Accepted", "type": "UpperThreshold", "severity": 2, **TEMPERATURE}]},
    )  # fmt: skip
    await exchange(socket, "SetMonitoringLevel", {"severity": 4}, {"status": "Accepted"})
    await exchange(
        socket, "SetMonitoringBase", {"monitoringBase": "FactoryDefault"}, {"status": "Accepted"}
    )
    setting = await MonitoringSetting.objects.aget()
    assert (setting.monitoring_base, setting.monitoring_level) == ("FactoryDefault", 4)
    assert await monitors() == []  # FactoryDefault removed the custom monitors
    await exchange(socket, "SetMonitoringLevel", {"severity": 9}, {"status": "Rejected"})
    assert (await MonitoringSetting.objects.aget()).monitoring_level == 4


def event(event_id: int, trigger: str, value: str, **fields) -> dict:
    return {
        "eventId": event_id,
        "timestamp": "2026-01-01T00:00:00Z",
        "trigger": trigger,
        "actualValue": value,
        "eventNotificationType": "CustomMonitor",
        **TEMPERATURE,
        **fields,
    }


def notify_event(*events, seq_no: int = 0) -> dict:
    return {"generatedAt": "2026-01-01T00:00:01Z", "seqNo": seq_no, "eventData": list(events)}


device_alarms = sync_to_async(
    lambda: [a for a in system_alarms() if a["code"] == ALARM_DEVICE_PROBLEM]
)


async def test_notify_event_is_stored_and_a_problem_raises_an_alarm_until_cleared(
    charge_point_socket,
):
    socket = await station_201(charge_point_socket)
    periodic = event(1, "Periodic", "40", eventNotificationType="HardWiredNotification")
    alert = event(2, "Alerting", "95", variableMonitoringId=7, techCode="OVERHEAT")
    assert await answer_201(socket, "NotifyEvent", notify_event(periodic, alert), "e1") == {}

    stored = [
        (e.event_id, e.trigger, e.actual_value, e.is_problem, e.cleared_at)
        async for e in DeviceEvent.objects.order_by("event_id")
    ]
    assert stored == [(1, "Periodic", "40", False, None), (2, "Alerting", "95", True, None)]
    [alarm] = await device_alarms()
    assert alarm["message"] == "1 problems reported by 1 charge points and not cleared."
    assert alarm["url"].endswith("?open_problem=yes")

    back_to_normal = event(3, "Alerting", "70", variableMonitoringId=7, cleared=True, cause=2)
    assert (
        await answer_201(socket, "NotifyEvent", notify_event(back_to_normal, seq_no=1), "e2") == {}
    )
    assert await device_alarms() == []
    problem = await DeviceEvent.objects.aget(event_id=2)
    assert problem.cleared_at is not None


async def test_an_event_of_a_severe_monitor_is_a_problem_even_if_periodic(charge_point_socket):
    socket = await station_201(charge_point_socket)
    await exchange(
        socket,
        "SetVariableMonitoring",
        {"setMonitoringData": [{"value": 60, "type": "Periodic", "severity": 1, **TEMPERATURE}]},
        {"setMonitoringResult": [{"id": 9, "status": "Accepted", "type": "Periodic", "severity": 1, **TEMPERATURE}]},
    )  # fmt: skip
    await answer_201(
        socket, "NotifyEvent", notify_event(event(4, "Periodic", "41", variableMonitoringId=9))
    )
    stored = await DeviceEvent.objects.aget(event_id=4)
    assert (stored.severity, stored.is_problem) == (1, True)
    assert len(await device_alarms()) == 1


async def test_customer_information_is_assembled_from_its_parts(charge_point_socket):
    socket = await station_201(charge_point_socket)
    request = {
        "requestId": 11,
        "report": True,
        "clear": False,
        "idToken": {"idToken": "04A2B3C4D5", "type": "ISO14443"},
    }
    await exchange(socket, "CustomerInformation", request, {"status": "Accepted"})

    def part(seq_no: int, data: str, **tbc) -> dict:
        generated = "2026-01-01T00:00:00Z"
        return {"requestId": 11, "seqNo": seq_no, "data": data, "generatedAt": generated, **tbc}

    # The second part overtakes the first.
    assert await answer_201(socket, "NotifyCustomerInformation", part(1, "world"), "c1") == {}
    assert (
        await answer_201(socket, "NotifyCustomerInformation", part(0, "hello ", tbc=True), "c0")
        == {}
    )
    record = await CustomerInformation.objects.aget(request_id=11)
    assert (record.customer, record.status, record.report, record.clear) == (
        "04A2B3C4D5",
        "Accepted",
        True,
        False,
    )
    assert (record.data, record.complete) == ("hello world", True)

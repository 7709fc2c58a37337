"""What the answers to 2.0.1 provisioning commands change in the device model.

Commands go through `commands.command_send` (the one way to a charge point)
to a station on a WebsocketCommunicator, which answers them.
"""

from __future__ import annotations

import asyncio

import pytest

from devicemodel.models import (
    DeviceReport,
    DeviceVariable,
    NetworkProfile,
    ResetRecord,
    VariableAttribute,
)
from ocpp_consumer import commands

from ..test_api_commands import answer, next_call
from .station import BOOT_201, answer_201, station_201

pytestmark = pytest.mark.django_db(transaction=True)

HEARTBEAT = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
TX_SOURCE = {"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"}}


async def exchange(socket, action: str, payload: dict, reply: dict):
    """Send a command, answer it as the station; return the command's record."""
    sending = asyncio.ensure_future(
        commands.command_send(charge_point_id="CP201", action=action, payload=payload)
    )
    frame = await next_call(socket, action)
    assert frame[3] == payload
    await answer(socket, frame, reply)
    return await sending


async def test_a_base_report_answered_then_sent_in_parts(charge_point_socket):
    socket = await station_201(charge_point_socket)
    command = await exchange(
        socket,
        "GetBaseReport",
        {"requestId": 5, "reportBase": "FullInventory"},
        {"status": "Accepted"},
    )
    assert command.status == "answered"
    report = await DeviceReport.objects.aget(request_id=5)
    assert (report.report_base, report.status) == ("FullInventory", "Accepted")
    part = {
        "requestId": 5,
        "generatedAt": "2026-01-01T00:00:00Z",
        "seqNo": 0,
        "reportData": [{**HEARTBEAT, "variableAttribute": [{"value": "300"}]}],
    }
    await answer_201(socket, "NotifyReport", part, "n1")
    report = await DeviceReport.objects.aget(request_id=5)
    assert (report.status, report.parts_received, report.variables_reported) == ("Complete", 1, 1)


async def test_get_report_refused_is_recorded(charge_point_socket):
    socket = await station_201(charge_point_socket)
    payload = {"requestId": 6, "componentVariable": [{"component": {"name": "Nope"}}]}
    await exchange(socket, "GetReport", payload, {"status": "EmptyResultSet"})
    report = await DeviceReport.objects.aget(request_id=6)
    assert (report.report_base, report.status) == ("Custom", "EmptyResultSet")


async def test_get_variables_stores_the_accepted_values(charge_point_socket):
    socket = await station_201(charge_point_socket)
    payload = {"getVariableData": [HEARTBEAT, {**TX_SOURCE, "attributeType": "Target"}]}
    reply = {
        "getVariableResult": [
            {"attributeStatus": "Accepted", "attributeValue": "120", **HEARTBEAT},
            {"attributeStatus": "UnknownVariable", "attributeType": "Target", **TX_SOURCE},
        ]
    }
    await exchange(socket, "GetVariables", payload, reply)
    attribute = await VariableAttribute.objects.select_related("variable").aget()
    assert (attribute.variable.path, attribute.type, attribute.value) == (
        "OCPPCommCtrlr.HeartbeatInterval",
        "Actual",
        "120",
    )
    assert not await DeviceVariable.objects.filter(component="TxCtrlr").aexists()


async def test_set_variables_updates_what_was_accepted_and_marks_reboots(charge_point_socket):
    socket = await station_201(charge_point_socket)
    await exchange(
        socket,
        "GetVariables",
        {"getVariableData": [HEARTBEAT, TX_SOURCE]},
        {
            "getVariableResult": [
                {"attributeStatus": "Accepted", "attributeValue": "300", **HEARTBEAT},
                {"attributeStatus": "Accepted", "attributeValue": "PowerPathClosed", **TX_SOURCE},
            ]
        },
    )
    payload = {
        "setVariableData": [
            {"attributeValue": "60", **HEARTBEAT},
            {"attributeValue": "Authorized", **TX_SOURCE},
            {"attributeValue": "x", "component": {"name": "Ghost"}, "variable": {"name": "V"}},
        ]
    }
    reply = {
        "setVariableResult": [
            {"attributeStatus": "RebootRequired", **HEARTBEAT},
            {"attributeStatus": "Rejected", **TX_SOURCE},
            {
                "attributeStatus": "UnknownComponent",
                "component": {"name": "Ghost"},
                "variable": {"name": "V"},
            },
        ]
    }
    await exchange(socket, "SetVariables", payload, reply)
    heartbeat = await VariableAttribute.objects.aget(variable__name="HeartbeatInterval")
    assert (heartbeat.value, heartbeat.set_status, heartbeat.reboot_required) == (
        "60",
        "RebootRequired",
        True,
    )
    tx_start = await VariableAttribute.objects.aget(variable__name="TxStartPoint")
    assert (tx_start.value, tx_start.set_status) == ("PowerPathClosed", "Rejected")
    assert not await DeviceVariable.objects.filter(component="Ghost").aexists()

    # The reboot applies it: the next boot clears the mark, the value stays.
    await answer_201(socket, "BootNotification", {**BOOT_201, "reason": "RemoteReset"}, "b2")
    heartbeat = await VariableAttribute.objects.aget(pk=heartbeat.pk)
    assert (heartbeat.value, heartbeat.reboot_required) == ("60", False)


async def test_network_profile_answers_keep_the_accepted_profile_without_secrets(
    charge_point_socket,
):
    socket = await station_201(charge_point_socket)
    connection = {
        "ocppVersion": "OCPP20",
        "ocppTransport": "JSON",
        "ocppCsmsUrl": "wss://csms.example.com/ocpp",
        "messageTimeout": 30,
        "securityProfile": 2,
        "ocppInterface": "Wireless0",
        "apn": {"apn": "internet", "apnPassword": "apn-secret", "apnAuthentication": "AUTO"},
    }
    payload = {"configurationSlot": 1, "connectionData": connection}
    await exchange(socket, "SetNetworkProfile", payload, {"status": "Accepted"})
    changed = {**connection, "ocppCsmsUrl": "wss://other.example.com/ocpp"}
    await exchange(
        socket,
        "SetNetworkProfile",
        {"configurationSlot": 1, "connectionData": changed},
        {"status": "Rejected"},
    )
    profile = await NetworkProfile.objects.aget(configuration_slot=1)
    assert profile.last_status == "Rejected"
    assert profile.connection_data["ocppCsmsUrl"] == "wss://csms.example.com/ocpp"
    assert profile.connection_data["apn"]["apnPassword"] == "********"
    assert profile.last_requested["ocppCsmsUrl"] == "wss://other.example.com/ocpp"


async def test_reset_answers_are_recorded(charge_point_socket):
    socket = await station_201(charge_point_socket)
    await exchange(socket, "Reset", {"type": "OnIdle", "evseId": 2}, {"status": "Scheduled"})
    await exchange(socket, "Reset", {"type": "Immediate"}, {"status": "Accepted"})
    resets = [(r.reset_type, r.evse_id, r.status) async for r in ResetRecord.objects.order_by("id")]
    assert resets == [("OnIdle", 2, "Scheduled"), ("Immediate", None, "Accepted")]

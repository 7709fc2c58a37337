"""An OCPP 2.0.1 charging station on a WebsocketCommunicator, for the v201 tests."""

from __future__ import annotations

from ocpp_consumer.framing import V201, validate_result

from ..conftest import OcppCommunicator, assert_call_result

BOOT_201 = {
    "reason": "PowerUp",
    "chargingStation": {"vendorName": "ACME", "model": "Wall 201"},
}


async def station_201(charge_point_socket, charge_point_id: str = "CP201") -> OcppCommunicator:
    """Connected over ocpp2.0.1 and booted (Accepted)."""
    socket = await charge_point_socket(charge_point_id, boot=False, subprotocols=["ocpp2.0.1"])
    boot = assert_call_result(await socket.call("BootNotification", BOOT_201, "boot"), "boot")
    assert boot["status"] == "Accepted", boot
    return socket


async def answer_201(socket, action: str, payload: dict, unique_id: str = "msg-1") -> dict:
    """CALL `action`; the exact CALLRESULT frame's payload, valid against its 2.0.1 schema."""
    result = assert_call_result(await socket.call(action, payload, unique_id), unique_id)
    validate_result(action, result, V201)
    return result

"""Answers to the OCPP 2.0.1 CALLs a CSMS sends a simulated charge point.

As for 1.6 (ocpp16_answers.py): each answer is built at once and returned to
the reader; what it sets in motion (a session, a reboot, a NotifyReport, the
message a TriggerMessage asks for) runs afterwards as a task. Requests are
checked against the official 2.0.1 schema first; a malformed one gets its
CALLERROR, spelled the 2.0.1 way on the wire (protocol.py).

The device model is small and honest: the variables below are what the
simulator really has and uses (the heartbeat interval, the meter interval,
the Basic Auth password of the next handshake); anything else is an
UnknownComponent or UnknownVariable, as on a charger that lacks it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from ocpp.v201.enums import (
    Action,
    AttributeEnumType,
    ChangeAvailabilityStatusEnumType,
    ChargingStateEnumType,
    ClearCacheStatusEnumType,
    DataEnumType,
    DataTransferStatusEnumType,
    FirmwareStatusEnumType,
    GenericDeviceModelStatusEnumType,
    GetVariableStatusEnumType,
    MessageTriggerEnumType,
    MutabilityEnumType,
    OperationalStatusEnumType,
    ReadingContextEnumType,
    ReasonEnumType,
    RequestStartStopStatusEnumType,
    ResetEnumType,
    ResetStatusEnumType,
    SetVariableStatusEnumType,
    TransactionEventEnumType,
    TriggerMessageStatusEnumType,
    TriggerReasonEnumType,
    UnlockStatusEnumType,
    UploadLogStatusEnumType,
)

from .. import sessions
from ..frames import KNOWN_ACTIONS_BY_VERSION, V201, ErrorCode, OcppError, check_request
from ..protocol import Answer, ocpp_now
from ..state import ChargePoint, Connector
from .ocpp201_messages import CONNECTOR_ID, meter_value, transaction_event

KNOWN_ACTIONS = KNOWN_ACTIONS_BY_VERSION[V201]
# The BasicAuthPassword a charger takes (OCPP 2.0.1 part 2, SecurityCtrlr).
PASSWORD_LENGTHS = range(16, 41)


@dataclass(frozen=True)
class Variable:
    """One variable of the simulated device model: how it is read and written."""

    component: str
    name: str
    data_type: str
    mutability: str
    read: Callable[[ChargePoint], str] | None = None
    # Takes the new value; False refuses it (Rejected).
    write: Callable[[ChargePoint, str], bool] | None = None


def _positive_seconds(apply: Callable[[ChargePoint, float], None]):
    def write(cp: ChargePoint, value: str) -> bool:
        try:
            seconds = int(value)
        except ValueError:
            return False
        if seconds <= 0:
            return False
        apply(cp, float(seconds))
        return True

    return write


def _set_heartbeat_interval(cp: ChargePoint, seconds: float) -> None:
    cp.heartbeat_interval = seconds


def _set_meter_interval(cp: ChargePoint, seconds: float) -> None:
    cp.meter_interval = seconds


def _set_password(cp: ChargePoint, value: str) -> bool:
    if len(value) not in PASSWORD_LENGTHS:
        return False
    cp.password = value  # the next handshake authenticates with it
    return True


def _remember(key: str, default: str):
    def read(cp: ChargePoint) -> str:
        return cp.extra_configuration.get(key, default)

    def write(cp: ChargePoint, value: str) -> bool:
        cp.extra_configuration[key] = value
        return True

    return read, write


_MEASURANDS = _remember("TxUpdatedMeasurands", "Energy.Active.Import.Register,Power.Active.Import")
VARIABLES = {
    (v.component, v.name): v
    for v in (
        Variable(
            "OCPPCommCtrlr",
            "HeartbeatInterval",
            DataEnumType.integer,
            MutabilityEnumType.read_write,
            read=lambda cp: str(round(cp.heartbeat_interval)),
            write=_positive_seconds(_set_heartbeat_interval),
        ),
        Variable(
            "SampledDataCtrlr",
            "TxUpdatedInterval",
            DataEnumType.integer,
            MutabilityEnumType.read_write,
            read=lambda cp: str(round(cp.meter_interval)),
            write=_positive_seconds(_set_meter_interval),
        ),
        Variable(
            "SampledDataCtrlr",
            "TxUpdatedMeasurands",
            DataEnumType.member_list,
            MutabilityEnumType.read_write,
            read=_MEASURANDS[0],
            write=_MEASURANDS[1],
        ),
        Variable(
            "AuthCtrlr",
            "AuthorizeRemoteStart",
            DataEnumType.boolean,
            MutabilityEnumType.read_only,
            read=lambda cp: "false",
        ),
        Variable(
            "SecurityCtrlr",
            "BasicAuthPassword",
            DataEnumType.string,  # 2.0.1 has no passwordString type
            MutabilityEnumType.write_only,
            write=_set_password,
        ),
    )
}
COMPONENTS = frozenset(component for component, _ in VARIABLES)


def answer_call(cp: ChargePoint, action: str, payload: dict) -> Answer:
    """The answer to one CALL from the CSMS (never awaits: see the module docstring)."""
    handler = HANDLERS.get(action)
    if handler is None:
        if action in KNOWN_ACTIONS:
            return Answer(error=OcppError(ErrorCode.NOT_SUPPORTED, f"{action} is not simulated"))
        unknown = f"unknown action {action[:50]!r}"
        return Answer(error=OcppError(ErrorCode.NOT_IMPLEMENTED, unknown))
    try:
        check_request(action, payload, V201)
    except OcppError as exc:
        return Answer(error=exc)
    return handler(cp, payload)


def _evse(cp: ChargePoint, evse_id) -> Connector | None:
    if isinstance(evse_id, int) and 1 <= evse_id <= len(cp.connectors):
        return cp.connectors[evse_id - 1]
    return None


def _evse_of(cp: ChargePoint, evse: dict | None) -> tuple[bool, list[Connector]]:
    """The EVSEs an optional EVSEType names (all without one); False for an unknown one."""
    if evse is None:
        return True, list(cp.connectors)
    connector = _evse(cp, evse["id"])
    if connector is None or evse.get("connectorId", CONNECTOR_ID) != CONNECTOR_ID:
        return False, []
    return True, [connector]


# --- sessions -------------------------------------------------------------------------


def _request_start(cp: ChargePoint, payload: dict) -> Answer:
    if "evseId" in payload:
        candidates = [c for c in [_evse(cp, payload["evseId"])] if c is not None]
    else:
        candidates = cp.connectors
    free = [c for c in candidates if not c.busy and c.operative]
    if not free or not cp.can_start_session:
        return Answer(payload={"status": RequestStartStopStatusEnumType.rejected})
    connector = free[0]
    connector.busy = True  # claimed before the answer leaves: no second start on it

    async def begin() -> None:
        if cp.can_start_session:
            id_tag = payload["idToken"]["idToken"]
            sessions.start(cp, connector, id_tag=id_tag, remote=payload)
        else:  # the run ended or a Reset came in between
            connector.busy = False

    return Answer(payload={"status": RequestStartStopStatusEnumType.accepted}, then=begin)


def _request_stop(cp: ChargePoint, payload: dict) -> Answer:
    for connector in cp.connectors:
        if connector.transaction_id == payload["transactionId"]:
            connector.request_stop(ReasonEnumType.remote)
            return Answer(payload={"status": RequestStartStopStatusEnumType.accepted})
    return Answer(payload={"status": RequestStartStopStatusEnumType.rejected})


def _transaction_status(cp: ChargePoint, payload: dict) -> Answer:
    answer = {"messagesInQueue": False}
    if "transactionId" in payload:
        ongoing = any(c.transaction_id == payload["transactionId"] for c in cp.connectors)
        answer["ongoingIndicator"] = ongoing
    return Answer(payload=answer)


# --- reset, availability, unlock -------------------------------------------------------


def _reset(cp: ChargePoint, payload: dict) -> Answer:
    if "evseId" in payload:  # resetting one EVSE alone is not simulated
        return Answer(payload={"status": ResetStatusEnumType.rejected})
    running = [task for task in cp.session_tasks if not task.done()]
    if payload["type"] == ResetEnumType.immediate or not running:
        return Answer(
            payload={"status": ResetStatusEnumType.accepted},
            then=lambda: cp.reboot(ReasonEnumType.immediate_reset),
        )

    async def when_idle() -> None:  # OnIdle: once the running sessions have ended
        await asyncio.wait(running)
        await cp.reboot(ReasonEnumType.immediate_reset)

    return Answer(payload={"status": ResetStatusEnumType.scheduled}, then=when_idle)


def _change_availability(cp: ChargePoint, payload: dict) -> Answer:
    known, targets = _evse_of(cp, payload.get("evse"))
    if not known:
        return Answer(payload={"status": ChangeAvailabilityStatusEnumType.rejected})
    operative = payload["operationalStatus"] == OperationalStatusEnumType.operative
    for connector in targets:
        connector.operative = operative
    # A busy EVSE changes once its session ends (sessions.idle_status).
    idle = [c for c in targets if not c.busy]
    status = cp.dialect.available if operative else cp.dialect.unavailable

    async def report() -> None:
        for connector in idle:
            await cp.send_status(connector.connector_id, status)

    busy = len(idle) < len(targets)
    answer = (
        ChangeAvailabilityStatusEnumType.scheduled
        if busy
        else ChangeAvailabilityStatusEnumType.accepted
    )
    return Answer(payload={"status": answer}, then=report)


def _unlock(cp: ChargePoint, payload: dict) -> Answer:
    connector = _evse(cp, payload["evseId"])
    if connector is None or payload["connectorId"] != CONNECTOR_ID:
        return Answer(payload={"status": UnlockStatusEnumType.unknown_connector})
    if connector.transaction_id is not None:  # 2.0.1: no unlock under a running transaction
        return Answer(payload={"status": UnlockStatusEnumType.ongoing_authorized_transaction})
    return Answer(payload={"status": UnlockStatusEnumType.unlocked})


# --- the device model -------------------------------------------------------------------


def _variable(request: dict) -> tuple[str, Variable | None]:
    """The variable a ComponentVariable names, or why not (an attribute status)."""
    component, variable = request["component"], request["variable"]
    if request.get("attributeType", AttributeEnumType.actual) != AttributeEnumType.actual:
        return GetVariableStatusEnumType.not_supported_attribute_type, None
    if component["name"] not in COMPONENTS or "evse" in component or "instance" in component:
        return GetVariableStatusEnumType.unknown_component, None
    found = VARIABLES.get((component["name"], variable["name"]))
    if found is None or "instance" in variable:
        return GetVariableStatusEnumType.unknown_variable, None
    return GetVariableStatusEnumType.accepted, found


def _result(request: dict, status: str) -> dict:
    result = {
        "attributeStatus": status,
        "component": request["component"],
        "variable": request["variable"],
    }
    if "attributeType" in request:
        result["attributeType"] = request["attributeType"]
    return result


def _get_variables(cp: ChargePoint, payload: dict) -> Answer:
    results = []
    for request in payload["getVariableData"]:
        status, variable = _variable(request)
        if variable is not None and variable.read is None:
            status = GetVariableStatusEnumType.rejected  # write-only: never read out
        result = _result(request, status)
        if status == GetVariableStatusEnumType.accepted:
            result["attributeValue"] = variable.read(cp)
        results.append(result)
    return Answer(payload={"getVariableResult": results})


def _set_variables(cp: ChargePoint, payload: dict) -> Answer:
    results = []
    for request in payload["setVariableData"]:
        status, variable = _variable(request)
        if variable is not None:
            accepted = variable.write is not None and variable.write(cp, request["attributeValue"])
            status = (
                SetVariableStatusEnumType.accepted
                if accepted
                else SetVariableStatusEnumType.rejected
            )
        results.append(_result(request, status))
    return Answer(payload={"setVariableResult": results})


def report_data(cp: ChargePoint) -> list[dict]:
    """Every variable as a NotifyReport's ReportDataType (no value for write-only ones)."""
    data = []
    for variable in VARIABLES.values():
        attribute = {"type": AttributeEnumType.actual, "mutability": variable.mutability}
        if variable.read is not None:
            attribute["value"] = variable.read(cp)
        data.append(
            {
                "component": {"name": variable.component},
                "variable": {"name": variable.name},
                "variableAttribute": [attribute],
                "variableCharacteristics": {
                    "dataType": variable.data_type,
                    "supportsMonitoring": False,
                },
            }
        )
    return data


def _get_base_report(cp: ChargePoint, payload: dict) -> Answer:
    async def notify() -> None:
        report = {
            "requestId": payload["requestId"],
            "generatedAt": ocpp_now(),
            "seqNo": 0,
            "tbc": False,
            "reportData": report_data(cp),
        }
        await cp.call(Action.notify_report, report)

    return Answer(payload={"status": GenericDeviceModelStatusEnumType.accepted}, then=notify)


# --- TriggerMessage ---------------------------------------------------------------------


def _trigger_message(cp: ChargePoint, payload: dict) -> Answer:
    known, targets = _evse_of(cp, payload.get("evse"))
    if not known:
        return Answer(payload={"status": TriggerMessageStatusEnumType.rejected})
    requested = payload["requestedMessage"]
    sender = TRIGGERED.get(requested)
    if sender is None:
        return Answer(payload={"status": TriggerMessageStatusEnumType.not_implemented})
    if requested == MessageTriggerEnumType.transaction_event:
        targets = [c for c in targets if c.transaction_id is not None]
        if not targets:  # no transaction to tell about
            return Answer(payload={"status": TriggerMessageStatusEnumType.rejected})
    return Answer(
        payload={"status": TriggerMessageStatusEnumType.accepted},
        then=lambda: sender(cp, targets),
    )


async def _send_boot(cp: ChargePoint, targets: list[Connector]) -> None:
    socket = cp.socket  # also while Pending: that is what the trigger is for
    if socket is not None:
        payload = cp.dialect.boot_payload(cp, triggered=True)
        cp.apply_boot_answer(await socket.call(Action.boot_notification, payload))


async def _send_heartbeat(cp: ChargePoint, targets: list[Connector]) -> None:
    await cp.call(Action.heartbeat, {})


async def _send_status(cp: ChargePoint, targets: list[Connector]) -> None:
    for connector in targets:
        await cp.send_status(connector.connector_id, connector.status)


async def _send_meter_values(cp: ChargePoint, targets: list[Connector]) -> None:
    for connector in targets:
        meter = meter_value(connector, ReadingContextEnumType.trigger)
        await cp.call(
            Action.meter_values, {"evseId": connector.connector_id, "meterValue": [meter]}
        )


async def _send_transaction_event(cp: ChargePoint, targets: list[Connector]) -> None:
    for connector in targets:
        if connector.transaction_id is None:
            continue  # ended meanwhile
        payload = transaction_event(
            connector,
            TransactionEventEnumType.updated,
            TriggerReasonEnumType.trigger,
            _charging_state(connector),
            meter=meter_value(connector, ReadingContextEnumType.trigger),
        )
        await cp.call(Action.transaction_event, payload)


def _charging_state(connector: Connector) -> str:
    if connector.charging_since is not None:
        return ChargingStateEnumType.charging
    return ChargingStateEnumType.ev_connected


def _idle_notification(action: str, status: str):
    async def send(cp: ChargePoint, targets: list[Connector]) -> None:
        await cp.call(action, {"status": status})

    return send


TRIGGERED = {
    MessageTriggerEnumType.boot_notification: _send_boot,
    MessageTriggerEnumType.heartbeat: _send_heartbeat,
    MessageTriggerEnumType.status_notification: _send_status,
    MessageTriggerEnumType.meter_values: _send_meter_values,
    MessageTriggerEnumType.transaction_event: _send_transaction_event,
    MessageTriggerEnumType.log_status_notification: _idle_notification(
        Action.log_status_notification, UploadLogStatusEnumType.idle
    ),
    MessageTriggerEnumType.firmware_status_notification: _idle_notification(
        Action.firmware_status_notification, FirmwareStatusEnumType.idle
    ),
}


def _constant(payload: dict) -> Callable[[ChargePoint, dict], Answer]:
    return lambda cp, request: Answer(payload=payload)


HANDLERS: dict[str, Callable[[ChargePoint, dict], Answer]] = {
    Action.request_start_transaction: _request_start,
    Action.request_stop_transaction: _request_stop,
    Action.get_transaction_status: _transaction_status,
    Action.reset: _reset,
    Action.change_availability: _change_availability,
    Action.unlock_connector: _unlock,
    Action.get_variables: _get_variables,
    Action.set_variables: _set_variables,
    Action.get_base_report: _get_base_report,
    Action.trigger_message: _trigger_message,
    Action.clear_cache: _constant({"status": ClearCacheStatusEnumType.accepted}),
    Action.data_transfer: _constant({"status": DataTransferStatusEnumType.unknown_vendor_id}),
}

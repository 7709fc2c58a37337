"""Answers to the OCPP 1.6 CALLs a CSMS sends a simulated charge point.

Each answer is built at once and returned to the reader, which sends it; what
the command sets in motion (a session, a reboot, the message a TriggerMessage
asks for) runs afterwards as a task, because it sends CALLs of its own and
the reader must keep reading to receive their answers. Requests are checked
against the official schema first, as a charger's firmware would, so that a
malformed command gets its OCPP-J 1.6 CALLERROR (frames.py).
"""

from __future__ import annotations

from collections.abc import Callable

from ocpp.v16.enums import (
    Action,
    AvailabilityStatus,
    AvailabilityType,
    ChargePointStatus,
    ConfigurationStatus,
    DataTransferStatus,
    DiagnosticsStatus,
    FirmwareStatus,
    GetCompositeScheduleStatus,
    MessageTrigger,
    Reason,
    RemoteStartStopStatus,
    ResetType,
    TriggerMessageStatus,
    UnlockStatus,
)

from .. import sessions
from ..frames import KNOWN_ACTIONS, ErrorCode, OcppError, check_request
from ..protocol import Answer
from ..state import ChargePoint, Connector
from .ocpp16_messages import meter_values_payload

ACCEPTED = {"status": "Accepted"}
# Answered Accepted and otherwise ignored: the simulator has no local cache,
# charging profiles, reservations or local list to keep (only its version).
PLAIN_ACCEPT = frozenset(
    {
        Action.clear_cache,
        Action.set_charging_profile,
        Action.clear_charging_profile,
        Action.reserve_now,
        Action.cancel_reservation,
        Action.send_local_list,
    }
)
# Configuration keys a charger cannot take over the air.
READ_ONLY_KEYS = frozenset({"NumberOfConnectors", "SupportedFeatureProfiles"})
INTEGER_KEYS = frozenset({"HeartbeatInterval", "MeterValueSampleInterval"})
FEATURE_PROFILES = (
    "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger"
)


def answer_call(cp: ChargePoint, action: str, payload: dict) -> Answer:
    """The answer to one CALL from the CSMS (never awaits: see the module docstring)."""
    handler = HANDLERS.get(action)
    if handler is None:
        if action in KNOWN_ACTIONS:
            return Answer(error=OcppError(ErrorCode.NOT_SUPPORTED, f"{action} is not simulated"))
        unknown = f"unknown action {action[:50]!r}"
        return Answer(error=OcppError(ErrorCode.NOT_IMPLEMENTED, unknown))
    try:
        check_request(action, payload)
    except OcppError as exc:
        return Answer(error=exc)
    if action in PLAIN_ACCEPT:
        if action == Action.send_local_list:
            cp.local_list_version = payload["listVersion"]
        return Answer(payload=ACCEPTED)
    return handler(cp, payload)


def _reset(cp: ChargePoint, payload: dict) -> Answer:
    reason = Reason.hard_reset if payload["type"] == ResetType.hard else Reason.soft_reset
    return Answer(payload=ACCEPTED, then=lambda: cp.reboot(reason))


def _connector(cp: ChargePoint, connector_id) -> Connector | None:
    if isinstance(connector_id, int) and 1 <= connector_id <= len(cp.connectors):
        return cp.connectors[connector_id - 1]
    return None


def _remote_start(cp: ChargePoint, payload: dict) -> Answer:
    if "connectorId" in payload:
        candidates = [c for c in [_connector(cp, payload["connectorId"])] if c is not None]
    else:
        candidates = cp.connectors
    free = [c for c in candidates if not c.busy and c.operative]
    if not free or not cp.can_start_session:
        return Answer(payload={"status": RemoteStartStopStatus.rejected})
    connector = free[0]
    connector.busy = True  # claimed before the answer leaves: no second start on it

    async def begin() -> None:
        if cp.can_start_session:
            sessions.start(cp, connector, id_tag=payload["idTag"], remote=payload)
        else:  # the run ended or a Reset came in between
            connector.busy = False

    return Answer(payload={"status": RemoteStartStopStatus.accepted}, then=begin)


def _remote_stop(cp: ChargePoint, payload: dict) -> Answer:
    for connector in cp.connectors:
        if connector.transaction_id == payload["transactionId"]:
            connector.request_stop(Reason.remote)
            return Answer(payload={"status": RemoteStartStopStatus.accepted})
    return Answer(payload={"status": RemoteStartStopStatus.rejected})


def _unlock(cp: ChargePoint, payload: dict) -> Answer:
    connector = _connector(cp, payload["connectorId"])
    if connector is None:
        return Answer(payload={"status": UnlockStatus.not_supported})
    if connector.transaction_id is not None:
        connector.request_stop(Reason.unlock_command)
    return Answer(payload={"status": UnlockStatus.unlocked})


def _change_availability(cp: ChargePoint, payload: dict) -> Answer:
    connector_id = payload["connectorId"]
    if connector_id == 0:
        targets = cp.connectors
    else:
        connector = _connector(cp, connector_id)
        if connector is None:
            return Answer(payload={"status": AvailabilityStatus.rejected})
        targets = [connector]
    operative = payload["type"] == AvailabilityType.operative
    for connector in targets:
        connector.operative = operative
    # A busy connector changes once its session ends (sessions._idle_status).
    idle = [c for c in targets if not c.busy]
    busy = len(idle) < len(targets)
    status = ChargePointStatus.available if operative else ChargePointStatus.unavailable

    async def report() -> None:
        if connector_id == 0:
            await cp.send_status(0, status)
        for connector in idle:
            await cp.send_status(connector.connector_id, status)

    answer = AvailabilityStatus.scheduled if busy else AvailabilityStatus.accepted
    return Answer(payload={"status": answer}, then=report)


def configuration(cp: ChargePoint) -> dict[str, str]:
    """The configuration keys GetConfiguration reports, as strings."""
    return {
        "HeartbeatInterval": str(round(cp.heartbeat_interval)),
        "MeterValueSampleInterval": str(round(cp.meter_interval)),
        "MeterValuesSampledData": "Energy.Active.Import.Register,Power.Active.Import",
        "NumberOfConnectors": str(len(cp.connectors)),
        "AuthorizeRemoteTxRequests": "false",
        "LocalAuthListEnabled": "false",
        "SupportedFeatureProfiles": FEATURE_PROFILES,
        **cp.extra_configuration,
    }


def _get_configuration(cp: ChargePoint, payload: dict) -> Answer:
    values = configuration(cp)
    wanted = payload.get("key") or list(values)
    known = [
        {"key": key, "readonly": key in READ_ONLY_KEYS, "value": values[key]}
        for key in wanted
        if key in values and key != "AuthorizationKey"  # write-only, as the spec says
    ]
    answer = {"configurationKey": known}
    unknown = [key for key in wanted if key not in values]
    if unknown:
        answer["unknownKey"] = unknown
    return Answer(payload=answer)


def _change_configuration(cp: ChargePoint, payload: dict) -> Answer:
    key, value = payload["key"], payload["value"]
    if key in READ_ONLY_KEYS or key == "SecurityProfile":  # no TLS switch in a simulator
        return Answer(payload={"status": ConfigurationStatus.rejected})
    if key in INTEGER_KEYS:
        try:
            seconds = int(value)
        except ValueError:
            return Answer(payload={"status": ConfigurationStatus.rejected})
        if seconds <= 0:
            return Answer(payload={"status": ConfigurationStatus.rejected})
        if key == "HeartbeatInterval":
            cp.heartbeat_interval = float(seconds)
        else:
            cp.meter_interval = float(seconds)
    elif key == "AuthorizationKey":
        cp.password = value  # the next handshake authenticates with the new key
        cp.extra_configuration[key] = value
    else:
        cp.extra_configuration[key] = value
    return Answer(payload={"status": ConfigurationStatus.accepted})


def _trigger_message(cp: ChargePoint, payload: dict) -> Answer:
    connector_id = payload.get("connectorId")
    if connector_id is not None and connector_id != 0 and _connector(cp, connector_id) is None:
        return Answer(payload={"status": TriggerMessageStatus.rejected})
    sender = TRIGGERED.get(payload["requestedMessage"])
    if sender is None:
        return Answer(payload={"status": TriggerMessageStatus.not_implemented})
    return Answer(
        payload={"status": TriggerMessageStatus.accepted}, then=lambda: sender(cp, connector_id)
    )


async def _send_boot(cp: ChargePoint, connector_id) -> None:
    socket = cp.socket  # also while Pending: that is what the trigger is for
    if socket is not None:
        cp.apply_boot_answer(await socket.call(Action.boot_notification, cp.boot_payload()))


async def _send_status(cp: ChargePoint, connector_id) -> None:
    if connector_id is None or connector_id == 0:
        await cp.send_status(0, ChargePointStatus.available)
    for connector in cp.connectors:
        if connector_id in (None, 0, connector.connector_id):
            await cp.send_status(connector.connector_id, connector.status)


async def _send_meter_values(cp: ChargePoint, connector_id) -> None:
    for connector in cp.connectors:
        if connector_id in (None, 0, connector.connector_id):
            payload = meter_values_payload(connector, context="Trigger")
            await cp.call(Action.meter_values, payload)


def _notification(action: str, status: str):
    async def send(cp: ChargePoint, connector_id) -> None:
        await cp.call(action, {"status": status})

    return send


async def _send_heartbeat(cp: ChargePoint, connector_id) -> None:
    await cp.call(Action.heartbeat, {})


TRIGGERED = {
    MessageTrigger.boot_notification: _send_boot,
    MessageTrigger.heartbeat: _send_heartbeat,
    MessageTrigger.status_notification: _send_status,
    MessageTrigger.meter_values: _send_meter_values,
    MessageTrigger.diagnostics_status_notification: _notification(
        Action.diagnostics_status_notification, DiagnosticsStatus.idle
    ),
    MessageTrigger.firmware_status_notification: _notification(
        Action.firmware_status_notification, FirmwareStatus.idle
    ),
}


def _constant(payload: dict) -> Callable[[ChargePoint, dict], Answer]:
    return lambda cp, request: Answer(payload=payload)


HANDLERS: dict[str, Callable[[ChargePoint, dict], Answer]] = {
    Action.reset: _reset,
    Action.remote_start_transaction: _remote_start,
    Action.remote_stop_transaction: _remote_stop,
    Action.unlock_connector: _unlock,
    Action.change_availability: _change_availability,
    Action.get_configuration: _get_configuration,
    Action.change_configuration: _change_configuration,
    Action.trigger_message: _trigger_message,
    Action.get_local_list_version: lambda cp, request: Answer(
        payload={"listVersion": cp.local_list_version}
    ),
    Action.get_composite_schedule: _constant({"status": GetCompositeScheduleStatus.rejected}),
    Action.data_transfer: _constant({"status": DataTransferStatus.unknown_vendor_id}),
    Action.get_diagnostics: _constant({}),
    Action.update_firmware: _constant({}),
    **{action: _constant(ACCEPTED) for action in PLAIN_ACCEPT},
}

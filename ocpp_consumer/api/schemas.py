"""OpenAPI documents of each command's body and answer, from the official schemas.

The `ocpp` package carries the OCPP 1.6 and 2.0.1 JSON schemas (draft 4/6);
OpenAPI 3.0 takes a subset of JSON Schema, so references are inlined,
keywords it does not know are dropped, and property names are given in the
API's snake_case. An action both versions have (Reset, UnlockConnector, ...)
has one URL: its body and answer are documented as `anyOf` the two versions'
schemas (anyOf, not oneOf: `{}` is a valid ClearCache in both), each titled
with its version; the charge point's version decides which one applies.
"""

from __future__ import annotations

from functools import cache

from ocpp.messages import MessageType, get_validator

from ..commands import CS_TO_CP_ACTIONS
from ..commands.actions_201 import CSMS_ACTIONS as CSMS_ACTIONS_201
from ..framing import V16, V201
from .payloads import snake_key
from .serializers import ANSWER_STATUS_HELP, ANSWERED

_DROPPED = {
    "$schema",
    "$id",
    "id",
    "definitions",
    "javaType",
    "additionalItems",
    "title",
    "comment",
}

# Every action the API sends, in either version; one URL each.
API_ACTIONS = CS_TO_CP_ACTIONS | CSMS_ACTIONS_201
VERSION_ACTIONS = {V16: CS_TO_CP_ACTIONS, V201: CSMS_ACTIONS_201}
START_ACTIONS = frozenset({"RemoteStartTransaction", "RequestStartTransaction"})
COMMAND_ID_HELP = "The id of the command's record (in the charge point's command history)."


def action_versions(action: str) -> tuple[str, ...]:
    """The OCPP versions that have this command, oldest first."""
    return tuple(version for version, actions in VERSION_ACTIONS.items() if action in actions)


def _convert(node, definitions: dict):
    if isinstance(node, list):
        return [_convert(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return _convert(definitions[name], definitions)
    converted = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "properties":
            converted[key] = {
                snake_key(name): _convert(sub, definitions) for name, sub in value.items()
            }
        elif key == "required":
            converted[key] = [snake_key(name) for name in value]
        elif key == "additionalProperties" and node.get("type") != "object":
            continue  # meaningless on scalars, where some 1.6 schemas put it
        elif key == "description" and isinstance(value, str):
            converted[key] = " ".join(value.split())  # 2.0.1's carry CRLFs
        else:
            converted[key] = _convert(value, definitions)
    return converted


@cache
def _openapi(message_type: int, action: str, version: str) -> dict:
    schema = get_validator(message_type, action, version).schema
    return _convert(schema, schema.get("definitions", {}))


def request_schema(action: str, version: str = V16) -> dict:
    return _openapi(MessageType.Call, action, version)


def response_schema(action: str, version: str = V16) -> dict:
    return _openapi(MessageType.CallResult, action, version)


def _per_version(action: str, schema_of, description: str) -> dict:
    """The schema of the action's only version, or anyOf both, titled by version."""
    versions = action_versions(action)
    if len(versions) == 1:
        return schema_of(action, versions[0])
    return {
        "anyOf": [
            {
                **schema_of(action, version),
                "title": f"OCPP {version}",
                "description": description.format(version=version),
            }
            for version in versions
        ]
    }


def command_request_schema(action: str) -> dict:
    """The API body of a command: its request in each version that has it."""
    return _per_version(action, request_schema, "To a charge point speaking OCPP {version}.")


def _status_schema(action: str) -> dict:
    """`status` of the API's answer: the answers' own status values, or `Answered`."""
    values: list[str] = []
    for version in action_versions(action):
        status = response_schema(action, version).get("properties", {}).get("status")
        for value in status["enum"] if status else [ANSWERED]:
            if value not in values:
                values.append(value)
    return {"type": "string", "enum": values, "description": ANSWER_STATUS_HELP}


def answer_schema(action: str) -> dict:
    """The API's 200 answer to a command: its status and the charge point's payload."""
    payload = _per_version(action, response_schema, "From a charge point speaking OCPP {version}.")
    properties = {
        "status": _status_schema(action),
        "response": {**payload, "description": "The charge point's answer, snake_case."},
    }
    required = ["status", "response"]
    if action in START_ACTIONS:
        properties["command_id"] = {"type": "integer", "description": COMMAND_ID_HELP}
        required.append("command_id")
    return {"type": "object", "properties": properties, "required": required}


# Example bodies (snake_case) of the commands people send most, per version.
REQUEST_EXAMPLES = {
    "RemoteStartTransaction": {"connector_id": 1, "id_tag": "3F2A9C0B7D1E4A6B8C9D"},
    "RemoteStopTransaction": {"transaction_id": 1234},
    "Reset": {"type": "Soft"},
    "UnlockConnector": {"connector_id": 1},
    "ChangeAvailability": {"connector_id": 0, "type": "Inoperative"},
    "GetConfiguration": {"key": ["HeartbeatInterval", "MeterValueSampleInterval"]},
    "ChangeConfiguration": {"key": "MeterValueSampleInterval", "value": "60"},
    "TriggerMessage": {"requested_message": "StatusNotification", "connector_id": 1},
    "ClearCache": {},
    "DataTransfer": {"vendor_id": "com.example", "message_id": "Ping", "data": "hello"},
    "ReserveNow": {
        "connector_id": 1,
        "expiry_date": "2026-11-26T12:00:00Z",
        "id_tag": "04A2B3C4D5",
        "reservation_id": 7,
    },
    "CancelReservation": {"reservation_id": 7},
    "GetCompositeSchedule": {"connector_id": 1, "duration": 3600},
}
REQUEST_EXAMPLES_201 = {
    "RequestStartTransaction": {
        "evse_id": 1,
        "remote_start_id": 4711,
        "id_token": {"id_token": "3F2A9C0B7D1E4A6B8C9D", "type": "ISO14443"},
    },
    "RequestStopTransaction": {"transaction_id": "c0ffee00-1234"},
    "Reset": {"type": "OnIdle"},
    "UnlockConnector": {"evse_id": 1, "connector_id": 1},
    "ChangeAvailability": {"operational_status": "Inoperative", "evse": {"id": 1}},
    "TriggerMessage": {"requested_message": "StatusNotification", "evse": {"id": 1}},
    "ClearCache": {},
    "DataTransfer": {"vendor_id": "com.example", "message_id": "Ping", "data": "hello"},
    "GetBaseReport": {"request_id": 1, "report_base": "ConfigurationInventory"},
    "GetReport": {
        "request_id": 2,
        "component_variable": [{"component": {"name": "OCPPCommCtrlr"}}],
    },
    "GetVariables": {
        "get_variable_data": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
        ]
    },
    "SetVariables": {
        "set_variable_data": [
            {
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
                "attribute_value": "300",
            }
        ]
    },
    "GetLog": {
        "log_type": "DiagnosticsLog",
        "request_id": 3,
        "log": {"remote_location": "https://logs.example.com/upload"},
    },
    "UpdateFirmware": {
        "request_id": 5,
        "firmware": {
            "location": "https://fw.example.com/2.1.bin",
            "retrieve_date_time": "2026-12-01T02:00:00Z",
        },
    },
    "SetNetworkProfile": {
        "configuration_slot": 1,
        "connection_data": {
            "ocpp_version": "OCPP20",
            "ocpp_transport": "JSON",
            "ocpp_csms_url": "wss://csms.example.com/ocpp/",
            "message_timeout": 30,
            "security_profile": 2,
            "ocpp_interface": "Wired0",
        },
    },
}
EXAMPLES_BY_VERSION = {V16: REQUEST_EXAMPLES, V201: REQUEST_EXAMPLES_201}

ANSWER_EXAMPLES = {
    "GetConfiguration": {
        "status": ANSWERED,
        "response": {
            "configuration_key": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
            "unknown_key": ["MeterValueSampleInterval"],
        },
    },
    "GetLocalListVersion": {"status": ANSWERED, "response": {"list_version": 3}},
    "GetVariables": {
        "status": ANSWERED,
        "response": {
            "get_variable_result": [
                {
                    "attribute_status": "Accepted",
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                    "attribute_value": "300",
                }
            ]
        },
    },
    "RemoteStartTransaction": {
        "status": "Accepted",
        "response": {"status": "Accepted"},
        "command_id": 812,
    },
    "RequestStartTransaction": {
        "status": "Accepted",
        "response": {"status": "Accepted"},
        "command_id": 813,
    },
}
DEFAULT_ANSWER_EXAMPLE = {"status": "Accepted", "response": {"status": "Accepted"}}

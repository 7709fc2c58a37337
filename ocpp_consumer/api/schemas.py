"""OpenAPI documents of each command's body and answer, from the official schemas.

The `ocpp` package carries the OCPP 1.6 JSON schemas (draft 4/6); OpenAPI 3.0
takes a subset of JSON Schema, so references are inlined, keywords it does
not know are dropped, and property names are given in the API's snake_case.
"""

from __future__ import annotations

from functools import cache

from ocpp.messages import MessageType, get_validator

from .payloads import snake_key
from .serializers import ANSWER_STATUS_HELP, ANSWERED

_DROPPED = {"$schema", "$id", "id", "definitions", "javaType", "additionalItems", "title"}


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
        else:
            converted[key] = _convert(value, definitions)
    return converted


@cache
def _openapi(message_type: int, action: str) -> dict:
    schema = get_validator(message_type, action, "1.6").schema
    return _convert(schema, schema.get("definitions", {}))


def request_schema(action: str) -> dict:
    return _openapi(MessageType.Call, action)


def response_schema(action: str) -> dict:
    return _openapi(MessageType.CallResult, action)


def answer_schema(action: str) -> dict:
    """The API's 200 answer to a command: its status and the charge point's payload."""
    payload = response_schema(action)
    status = payload.get("properties", {}).get("status") or {"type": "string", "enum": [ANSWERED]}
    return {
        "type": "object",
        "properties": {
            "status": {**status, "description": ANSWER_STATUS_HELP},
            "response": {**payload, "description": "The charge point's answer, snake_case."},
        },
        "required": ["status", "response"],
    }


# Example bodies (snake_case) of the commands people send most.
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

ANSWER_EXAMPLES = {
    "GetConfiguration": {
        "status": ANSWERED,
        "response": {
            "configuration_key": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
            "unknown_key": ["MeterValueSampleInterval"],
        },
    },
    "GetLocalListVersion": {"status": ANSWERED, "response": {"list_version": 3}},
}
DEFAULT_ANSWER_EXAMPLE = {"status": "Accepted", "response": {"status": "Accepted"}}

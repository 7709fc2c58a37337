"""OCPP-J on the wire as a charge point speaks it: frames, schema checks, CALLERRORs.

The simulator is a client of any CSMS, so it carries its own framing rather
than borrowing the server's: it reads the CSMS's frames, checks each CALL
against the official schemas of its OCPP version that the `ocpp` package
ships (as a charger's firmware would) and refuses a malformed one with the
OCPP-J CALLERROR code (1.6: section 4.2.3). The frames are the same in 1.6
and 2.0.1; two codes are spelled differently: errors are raised with the 1.6
spellings below and `wire_code` gives the version's (2.0.1 writes
`FormatViolation` and `OccurrenceConstraintViolation`, as the `ocpp`
package's own exceptions do).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache
from typing import Any

from django.utils.dateparse import parse_datetime
from jsonschema import Draft4Validator, FormatChecker
from jsonschema.exceptions import best_match
from ocpp.messages import MessageType, get_validator
from ocpp.v16.enums import Action
from ocpp.v201.enums import Action as Action201

V16 = "1.6"
V201 = "2.0.1"
KNOWN_ACTIONS = frozenset(action.value for action in Action)
KNOWN_ACTIONS_BY_VERSION = {
    V16: KNOWN_ACTIONS,
    V201: frozenset(action.value for action in Action201),
}
# The CALLERROR codes OCPP-J 2.0.1 spells differently from 1.6.
SPELLINGS_201 = {
    "FormationViolation": "FormatViolation",
    "OccurenceConstraintViolation": "OccurrenceConstraintViolation",
}


def wire_code(code: str, version: str) -> str:
    """A CALLERROR code (raised with its 1.6 spelling) as `version` writes it."""
    return SPELLINGS_201.get(code, code) if version == V201 else code


class ErrorCode(StrEnum):
    """The CALLERROR codes of OCPP-J 1.6, spelled as 1.6 spells them."""

    NOT_IMPLEMENTED = "NotImplemented"
    NOT_SUPPORTED = "NotSupported"
    INTERNAL_ERROR = "InternalError"
    PROTOCOL_ERROR = "ProtocolError"
    FORMATION_VIOLATION = "FormationViolation"
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    OCCURENCE_CONSTRAINT_VIOLATION = "OccurenceConstraintViolation"
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"


class OcppError(Exception):
    """A CALL that must be answered with a CALLERROR of this code."""

    def __init__(self, code: ErrorCode, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description


@dataclass(frozen=True)
class Call:
    unique_id: str | int
    action: str
    payload: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CallResult:
    unique_id: str | int
    payload: Any = None


@dataclass(frozen=True)
class CallError:
    unique_id: str | int
    code: str
    description: str


class Unanswerable(Exception):
    """Not an OCPP-J frame, or one without a usable uniqueId: drop it."""


class MalformedCall(Exception):
    """A CALL that cannot be read but whose uniqueId can be answered with `error`."""

    def __init__(self, unique_id: str | int, error: OcppError) -> None:
        super().__init__(str(error))
        self.unique_id = unique_id
        self.error = error


def parse_frame(text: str) -> Call | CallResult | CallError:
    """Read one text frame from the CSMS; raise Unanswerable or MalformedCall."""
    try:
        message = json.loads(text)
    except ValueError as exc:
        raise Unanswerable(f"not JSON: {exc}") from exc
    if not isinstance(message, list) or len(message) < 2:
        raise Unanswerable("not an array of a MessageTypeId and a uniqueId")
    type_id, unique_id = message[0], message[1]
    if type(unique_id) not in (str, int):
        raise Unanswerable("no usable uniqueId")
    if type(type_id) is not int:
        raise Unanswerable(f"unknown MessageTypeId {type_id!r}")
    if type_id == MessageType.Call:
        return _parse_call(unique_id, message)
    if type_id == MessageType.CallResult and len(message) == 3:
        return CallResult(unique_id, {} if message[2] is None else message[2])
    if type_id == MessageType.CallError and len(message) >= 4:
        return CallError(unique_id, str(message[2]), str(message[3]))
    raise Unanswerable(f"MessageTypeId {type_id} with {len(message)} elements")


def _parse_call(unique_id: str | int, message: list) -> Call:
    if len(message) != 4:
        error = OcppError(ErrorCode.PROTOCOL_ERROR, f"a CALL has 4 elements, not {len(message)}")
        raise MalformedCall(unique_id, error)
    action, payload = message[2], message[3]
    if payload is None:  # some implementations send null for an empty payload
        payload = {}
    if not isinstance(action, str):
        raise MalformedCall(unique_id, OcppError(ErrorCode.PROTOCOL_ERROR, "Action is no string"))
    if not isinstance(payload, dict):
        error = OcppError(ErrorCode.FORMATION_VIOLATION, "the payload is no JSON object")
        raise MalformedCall(unique_id, error)
    return Call(unique_id, action, payload)


def call_frame(unique_id: str, action: str, payload: dict) -> str:
    return _compact([MessageType.Call, unique_id, action, payload])


def call_result_frame(unique_id: str | int, payload: dict) -> str:
    return _compact([MessageType.CallResult, unique_id, payload])


def call_error_frame(unique_id: str | int, error: OcppError) -> str:
    return _compact([MessageType.CallError, unique_id, error.code, error.description, {}])


def _compact(message: list) -> str:
    return json.dumps(message, separators=(",", ":"))


# --- checking a CALL from the CSMS against its schema ------------------------------

_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    # As forgiving as a charger: a missing zone means UTC, fractions are optional.
    return not isinstance(value, str) or parse_datetime(value) is not None


def _with_decimals(document: Any) -> Any:
    """Floats as Decimal, so that `multipleOf: 0.1` holds for 21.4 (binary floats fail it)."""
    return json.loads(json.dumps(document, default=float), parse_float=Decimal)


@cache
def _request_validator(action: str, version: str) -> Draft4Validator:
    schema = get_validator(MessageType.Call, action, version).schema
    return Draft4Validator(_with_decimals(schema), format_checker=_FORMATS)


# Which code (1.6 spelling) a broken schema keyword calls for; any other keyword is a
# PropertyConstraintViolation (a value out of its allowed range).
_CODE_BY_KEYWORD = {
    "required": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
    "additionalProperties": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
    "minItems": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
    "maxItems": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
    "type": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "enum": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "maxLength": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "format": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
}


def check_request(action: str, payload: dict, version: str = V16) -> None:
    """Raise the OcppError a charger answers when a CALL breaks its action's schema."""
    validator = _request_validator(action, version)
    try:
        error = best_match(validator.iter_errors(_with_decimals(payload)))
    except InvalidOperation as exc:  # multipleOf on a number too large to divide
        raise OcppError(
            ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, "a number is out of range"
        ) from exc
    if error is None:
        return
    where = "/".join(str(part) for part in error.absolute_path) or "payload"
    description = f"{where}: {error.message}"[:500]
    if error.validator == "type" and not error.absolute_path:
        raise OcppError(ErrorCode.FORMATION_VIOLATION, description)
    code = _CODE_BY_KEYWORD.get(error.validator, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION)
    raise OcppError(code, description)

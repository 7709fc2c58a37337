"""OCPP-J 1.6 framing: parse frames, validate payloads, build answers.

Schemas come from the `ocpp` package; this module maps schema failures to the
OCPP-J 1.6 CALLERROR codes (section 4.2.3) and applies the few tolerances that
real chargers need (see `_tolerate`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

import fastjsonschema
from django.utils.dateparse import parse_datetime
from jsonschema import Draft4Validator, Draft6Validator, FormatChecker
from jsonschema.exceptions import best_match
from ocpp.messages import MessageType, get_validator
from ocpp.v16.enums import Action

from . import errors
from .compat import STRICT, Relaxations, relax_action, relax_by_schema

KNOWN_ACTIONS = frozenset(action.value for action in Action)


@dataclass(frozen=True)
class Call:
    unique_id: Any
    action: str
    payload: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CallResult:
    unique_id: Any
    payload: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CallError:
    unique_id: Any
    code: str
    description: str
    details: dict = field(default_factory=dict)


class UnanswerableFrame(Exception):
    """The frame has no usable uniqueId (or is not a frame): log and drop it."""


class BadCall(Exception):
    """A CALL whose frame is malformed but whose uniqueId can be answered."""

    def __init__(self, unique_id: Any, error: errors.OCPPError):
        super().__init__(error.description)
        self.unique_id = unique_id
        self.error = error


class BadAnswer(Exception):
    """A CALLRESULT or CALLERROR we cannot use: its command fails, nothing is answered."""

    def __init__(self, message_type: int, unique_id: Any, error: errors.OCPPError):
        super().__init__(error.description)
        self.message_type = message_type
        self.unique_id = unique_id
        self.error = error

    def as_call_error(self) -> CallError:
        """What the command waiting for this answer is told."""
        return CallError(self.unique_id, self.error.code, self.error.description)


# The deepest OCPP 1.6 payload (SetChargingProfile, MeterValues, StopTransaction,
# RemoteStartTransaction) nests 5 levels, 6 with the frame's own array.
DEFAULT_MAX_DEPTH = 32
# Read without parsing, for a frame that cannot be parsed (too large, too deep,
# not UTF-8): its MessageTypeId and a uniqueId of printable ASCII, unescaped.
_FRAME_HEAD = re.compile(r'^\s*\[\s*([234])\s*,\s*"([ !#-\[\]-~]{1,64})"')


def frame_head(text: str) -> tuple[int, str] | None:
    """The MessageTypeId and uniqueId at the start of an unparsable frame, if readable."""
    match = _FRAME_HEAD.match(text[:200])
    return (int(match.group(1)), match.group(2)) if match else None


def parse_frame(text: str, max_depth: int = DEFAULT_MAX_DEPTH) -> Call | CallResult | CallError:
    """Turn a WebSocket text frame into a message, or raise.

    Raises UnanswerableFrame (drop it), BadCall (answer a CALLERROR) or
    BadAnswer (fail the command it answers). Nothing deeper than `max_depth`
    levels gets past here, so nothing downstream (validation, the journal)
    can run out of stack on it.
    """
    if not text.isascii() and not _encodes(text):
        raise _unparsable(text, errors.FormationViolationError("the frame is not valid UTF-8"))
    try:
        message = json.loads(text, parse_constant=_not_json)
    except RecursionError:
        raise _unparsable(text, _too_deep(max_depth)) from None
    except (ValueError, TypeError) as exc:
        raise UnanswerableFrame(f"not JSON: {exc}") from exc
    if not isinstance(message, list) or not message:
        raise UnanswerableFrame("not a non-empty JSON array")
    type_id = message[0]
    if type(type_id) is not int or type_id not in (
        MessageType.Call,
        MessageType.CallResult,
        MessageType.CallError,
    ):
        raise UnanswerableFrame(f"unknown MessageTypeId {type_id!r}")
    if len(message) < 2 or type(message[1]) not in (str, int):
        raise UnanswerableFrame("no usable uniqueId")
    unique_id = message[1]
    if _nesting_exceeds(text, message, max_depth):
        if type_id == MessageType.Call:
            raise BadCall(unique_id, _too_deep(max_depth))
        raise BadAnswer(type_id, unique_id, _too_deep(max_depth))

    if type_id == MessageType.Call:
        return _parse_call(unique_id, message)
    if type_id == MessageType.CallResult:
        if len(message) != 3:
            raise UnanswerableFrame("CALLRESULT must have 3 elements")
        return _parse_call_result(unique_id, message[2])
    if len(message) < 4:
        raise UnanswerableFrame("CALLERROR must have 5 elements")
    details = message[4] if len(message) > 4 and isinstance(message[4], dict) else {}
    return CallError(unique_id, str(message[2]), str(message[3]), details)


def _parse_call(unique_id: Any, message: list) -> Call:
    if len(message) != 4:
        raise BadCall(
            unique_id,
            errors.ProtocolError(f"a CALL has 4 elements, this one has {len(message)}"),
        )
    action, payload = message[2], message[3]
    if not isinstance(action, str):
        raise BadCall(unique_id, errors.ProtocolError("Action must be a string"))
    if not isinstance(payload, dict):
        raise BadCall(unique_id, errors.FormationViolationError("payload must be a JSON object"))
    return Call(unique_id, action, payload)


def _parse_call_result(unique_id: Any, payload: Any) -> CallResult:
    if not isinstance(payload, dict):
        error = errors.FormationViolationError("CALLRESULT payload must be a JSON object")
        raise BadAnswer(MessageType.CallResult, unique_id, error)
    return CallResult(unique_id, payload)


def _not_json(constant: str) -> Any:
    # Python reads NaN and Infinity; JSON (and PostgreSQL's jsonb) has neither.
    raise ValueError(f"{constant} is not JSON")


def _unparsable(text: str, error: errors.OCPPError) -> Exception:
    """The exception for a frame that cannot be parsed: answer it if its head is readable."""
    head = frame_head(text)
    if head is None:
        return UnanswerableFrame(error.description)
    type_id, unique_id = head
    if type_id == MessageType.Call:
        return BadCall(unique_id, error)
    return BadAnswer(type_id, unique_id, error)


def _too_deep(max_depth: int) -> errors.OCPPError:
    return errors.FormationViolationError(f"the frame nests deeper than {max_depth} levels")


def _nesting_exceeds(text: str, message: list, max_depth: int) -> bool:
    """Whether the parsed frame nests deeper than max_depth (iteratively: no recursion).

    A frame with no more brackets than the limit cannot exceed it: the usual
    small frame is decided by two C-speed counts.
    """
    if text.count("[") + text.count("{") <= max_depth:
        return False
    level: list[tuple[Any, int]] = [(message, 1)]
    while level:
        container, depth = level.pop()
        if depth > max_depth:
            return True
        items = container.values() if isinstance(container, dict) else container
        level.extend((item, depth + 1) for item in items if isinstance(item, (dict, list)))
    return False


def call_result_frame(unique_id: Any, payload: dict) -> str:
    return json.dumps([MessageType.CallResult, unique_id, payload], separators=(",", ":"))


def call_error_frame(unique_id: Any, error: errors.OCPPError, code: str = "") -> str:
    """The CALLERROR frame; `code` is the error's code as the negotiated version spells it."""
    return json.dumps(
        [MessageType.CallError, unique_id, code or error.code, error.description or "", {}],
        separators=(",", ":"),
    )


def call_frame(unique_id: str, action: str, payload: dict) -> str:
    return json.dumps([MessageType.Call, unique_id, action, payload], separators=(",", ":"))


# --- payload validation ----------------------------------------------------

_format_checker = FormatChecker(formats=())


@_format_checker.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    # Forgiving on purpose: a missing zone means UTC, fractions are optional.
    return not isinstance(value, str) or parse_datetime(value) is not None


def _is_date_time_or_false(value: str) -> bool:
    try:
        return _is_date_time(value)
    except ValueError:
        return False


V16 = "1.6"
V201 = "2.0.1"


def _plain_schema(message_type_id: int, action: str, version: str) -> dict:
    """The `ocpp` package's schema with its numbers as plain JSON numbers.

    The package caches one schema per action, parsed with floats or with
    Decimal by whoever asked first (its own ChargePoint asks for Decimal, as
    the simulator and tests in this process do): read either the same way.
    """
    schema = get_validator(message_type_id, action, version).schema
    return json.loads(json.dumps(schema, default=float))


@cache
def _compiled(message_type_id: int, action: str, version: str = V16) -> Callable[[Any], Any] | None:
    """The schema compiled to Python code (fastjsonschema): 10-25x faster than jsonschema.

    It only says yes or no; for a payload it refuses, jsonschema names the
    error and its OCPP-J code. Schemas with `multipleOf` keep jsonschema only,
    which checks them on Decimal numbers.
    """
    schema = _plain_schema(message_type_id, action, version)
    text = json.dumps(schema)
    if "multipleOf" in text:
        return None
    # As for jsonschema above: date-time is checked, other formats (uri) are not.
    formats = {name: _anything for name in re.findall(r'"format": "([^"]+)"', text)}
    formats["date-time"] = _is_date_time_or_false
    # The draft each version's schemas declare (1.6: 4, where 1.0 is no
    # integer; 2.0.1: 6), as jsonschema is told below.
    schema = {**schema, "$schema": _DRAFT_URI[version]}
    return fastjsonschema.compile(schema, formats=formats, use_default=False)


def _anything(value: Any) -> bool:
    return True


_DRAFT_URI = {
    V16: "http://json-schema.org/draft-04/schema#",
    V201: "http://json-schema.org/draft-06/schema#",
}
_DRAFT_VALIDATOR = {V16: Draft4Validator, V201: Draft6Validator}


@cache
def _validator(
    message_type_id: int, action: str, version: str = V16
) -> tuple[Draft4Validator, bool]:
    """The schema's validator, and whether payloads need Decimal numbers for it."""
    schema = _plain_schema(message_type_id, action, version)
    has_multiple_of = "multipleOf" in json.dumps(schema)
    validator_class = _DRAFT_VALIDATOR[version]
    validator = validator_class(_decimal_numbers(schema), format_checker=_format_checker)
    return validator, has_multiple_of


def _decimal_numbers(document: Any) -> Any:
    """Floats as Decimal: `multipleOf: 0.1` fails 21.4 in binary floating point."""
    return json.loads(json.dumps(document), parse_float=Decimal)


def validate_call(call: Call, relax: Relaxations = STRICT, version: str = V16) -> dict:
    """Return the CALL's payload made valid, or raise the CALLERROR.

    `relax` holds the charge point's compatibility relaxations (none by
    default). Codes are raised with the 1.6 spellings; the consumer writes
    them as the negotiated version spells them.
    """
    payload = _tolerate(call.action, call.payload) if version == V16 else call.payload
    if relax is not STRICT:
        payload = relax_action(call.action, payload, relax)
        if relax.touches_schema:
            schema = get_validator(MessageType.Call, call.action, version).schema
            payload = relax_by_schema(schema, payload, relax)
    _validate(MessageType.Call, call.action, payload, version)
    _check_values(payload)
    if version == V16 and call.action == "StartTransaction" and payload["connectorId"] < 1:
        raise errors.PropertyConstraintViolationError("connectorId: a transaction needs 1 or more")
    return payload


def validate_result(action: str, payload: dict, version: str = V16) -> None:
    """Raise if a CALLRESULT payload breaks the action's response schema."""
    _validate(MessageType.CallResult, action, payload, version)


def validate_request(action: str, payload: dict, version: str = V16) -> None:
    """Raise if a CALL payload (ours, to a charge point) breaks its schema."""
    _validate(MessageType.Call, action, payload, version)


def _validate(message_type_id: int, action: str, payload: Any, version: str = V16) -> None:
    compiled = _compiled(message_type_id, action, version)
    if compiled is not None:
        try:
            compiled(payload)
            return
        except fastjsonschema.JsonSchemaException:
            pass  # jsonschema below tells which rule it breaks
    validator, needs_decimal = _validator(message_type_id, action, version)
    if needs_decimal:
        payload = _decimal_numbers(payload)
    try:
        _raise_first_error(validator, payload)
    except InvalidOperation as exc:  # multipleOf on a number too large to divide
        raise errors.PropertyConstraintViolationError("a number is out of range") from exc


_CODE_BY_SCHEMA_KEYWORD = {
    "required": errors.OccurenceConstraintViolationError,
    "additionalProperties": errors.OccurenceConstraintViolationError,
    "minItems": errors.OccurenceConstraintViolationError,
    "maxItems": errors.OccurenceConstraintViolationError,
    "type": errors.TypeConstraintViolationError,
    "enum": errors.TypeConstraintViolationError,
    "maxLength": errors.TypeConstraintViolationError,
    "format": errors.TypeConstraintViolationError,
}


def _raise_first_error(validator: Draft4Validator, payload: Any) -> None:
    error = best_match(validator.iter_errors(payload))
    if error is None:
        return
    where = "/".join(str(part) for part in error.absolute_path) or "payload"
    description = f"{where}: {error.message}"[:500]
    if error.validator == "type" and not error.absolute_path:
        raise errors.FormationViolationError(description)
    exc_class = _CODE_BY_SCHEMA_KEYWORD.get(
        error.validator, errors.PropertyConstraintViolationError
    )
    raise exc_class(description)


INT32 = range(-(2**31), 2**31)
INT64 = range(-(2**63), 2**63)
# Meter registers in Wh may outgrow 32 bits; every other OCPP integer is 32-bit.
_WIDE_INTEGERS = frozenset({"meterStart", "meterStop"})


def _check_values(value: Any, key: str = "payload") -> None:
    """Refuse what the schemas allow but no store can hold.

    OCPP integers are 32-bit, connector ids are not negative, and text
    holds no NUL or lone surrogate (PostgreSQL cannot store them).
    """
    if isinstance(value, dict):
        for name, item in value.items():
            _check_values(item, name)
    elif isinstance(value, list):
        for item in value:
            _check_values(item, key)
    elif isinstance(value, str):
        if "\x00" in value or not _encodes(value):
            raise errors.PropertyConstraintViolationError(f"{key}: invalid characters")
    elif type(value) is int:
        if value not in (INT64 if key in _WIDE_INTEGERS else INT32):
            raise errors.PropertyConstraintViolationError(f"{key}: {value} is out of range")
        if key == "connectorId" and value < 0:
            raise errors.PropertyConstraintViolationError("connectorId: must not be negative")


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_ACTIONS_WITH_SAMPLED_VALUES = {"MeterValues": "meterValue", "StopTransaction": "transactionData"}


def _tolerate(action: str, payload: dict) -> dict:
    """Repair what chargers commonly get wrong but mean clearly.

    SampledValue.value is a string in 1.6, yet several firmwares send a JSON
    number; the value is unambiguous, so it is read as its decimal string.
    """
    key = _ACTIONS_WITH_SAMPLED_VALUES.get(action)
    if key is None or not isinstance(payload.get(key), list):
        return payload
    for meter_value in payload[key]:
        if not isinstance(meter_value, dict):
            continue
        for sampled in meter_value.get("sampledValue") or ():
            if isinstance(sampled, dict):
                value = sampled.get("value")
                if type(value) in (int, float):
                    sampled["value"] = str(value)
    return payload

"""The compiled schemas (fastjsonschema) accept exactly what jsonschema accepts.

The compiled validator decides alone when a payload is valid, so it must
never accept what the reference validator refuses, nor refuse what it accepts.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ocpp.messages import MessageType, get_validator
from ocpp.v16.enums import Action

from ocpp_consumer import framing

from .test_fuzz import from_schema

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["2026-11-26T10:00:00Z", "2026-11-26T10:00:00", "26/11/2026", ""]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=10,
)

SCHEMAS = [
    (message_type, action.value)
    for action in Action
    for message_type in (MessageType.Call, MessageType.CallResult)
    if framing._compiled(message_type, action.value) is not None
]


@st.composite
def near_valid_payloads(draw, message_type, action):
    """A valid payload with some fields replaced, dropped or added."""
    schema = get_validator(message_type, action, "1.6").schema
    payload = draw(from_schema(schema))
    names = list(schema.get("properties", {})) + ["extra"]
    for name in draw(st.lists(st.sampled_from(names), max_size=3)):
        if draw(st.booleans()):
            payload[name] = draw(json_values)
        else:
            payload.pop(name, None)
    return payload


def reference_accepts(message_type, action, payload) -> bool:
    validator, needs_decimal = framing._validator(message_type, action)
    assert not needs_decimal  # those schemas are never compiled
    return not any(validator.iter_errors(payload))


def compiled_accepts(message_type, action, payload) -> bool:
    try:
        framing._compiled(message_type, action)(payload)
    except Exception:
        return False
    return True


def test_the_schemas_with_multiple_of_stay_on_jsonschema():
    assert framing._compiled(MessageType.Call, "SetChargingProfile") is None
    assert (MessageType.Call, "MeterValues") in SCHEMAS


@pytest.mark.parametrize(("message_type", "action"), SCHEMAS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_compiled_and_reference_validators_agree(message_type, action, data):
    payload = data.draw(near_valid_payloads(message_type, action) | json_values)
    assert compiled_accepts(message_type, action, payload) == reference_accepts(
        message_type, action, payload
    ), payload

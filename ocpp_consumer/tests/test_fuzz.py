"""Property-based fuzzing of frames against the consumer.

Whatever a charge point sends: no unhandled exception, the socket stays
open, a CALL with a usable uniqueId gets exactly one answer (a CALLRESULT
valid against the official schema or a CALLERROR with a 1.6 code), and
anything else gets no answer.
"""

import json
from datetime import UTC

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ocpp.messages import get_validator
from ocpp.v16.enums import Action

from ocpp_consumer import framing
from ocpp_consumer.errors import CALL_ERROR_CODES
from ocpp_consumer.handlers import HANDLERS

from .conftest import OcppCommunicator

pytestmark = pytest.mark.django_db(transaction=True)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
actions = st.sampled_from([a.value for a in Action]) | st.text(max_size=20)
field_names = st.sampled_from(
    ["connectorId", "idTag", "meterStart", "meterStop", "timestamp", "transactionId", "status",
     "errorCode", "meterValue", "sampledValue", "value", "vendorId", "chargePointVendor",
     "chargePointModel", "reservationId", "reason", "data"]
) | st.text(max_size=10)  # fmt: skip
plausible_payloads = st.dictionaries(
    field_names,
    json_scalars | st.lists(st.dictionaries(field_names, json_values, max_size=4), max_size=3),
    max_size=6,
)
unique_ids = st.text(min_size=1, max_size=40) | st.integers(min_value=-(2**40), max_value=2**40)
calls = st.builds(
    lambda uid, action, payload: [2, uid, action, payload],
    unique_ids,
    actions,
    plausible_payloads | json_values,
)
frames = (
    calls
    | st.lists(json_values, max_size=5)
    | st.builds(lambda uid, payload: [3, uid, payload], unique_ids, json_values)
    | st.builds(lambda uid: [4, uid, "GenericError", "x", {}], unique_ids)
    | json_values
)
texts = frames.map(json.dumps) | st.text(min_size=1, max_size=60)


def expected_answer_id(text: str):
    """The uniqueId a frame must be answered with, or None for no answer."""
    try:
        frame = json.loads(text)
    except ValueError:
        return None
    if (
        isinstance(frame, list)
        and len(frame) >= 2
        and type(frame[0]) is int
        and frame[0] == 2
        and type(frame[1]) in (str, int)
    ):
        return frame[1]
    return None


def assert_valid_answer(answer: list, unique_id, action) -> None:
    assert answer[1] == unique_id
    if answer[0] == 3:
        assert len(answer) == 3
        framing.validate_result(action, answer[2])
    else:
        assert answer[0] == 4 and len(answer) == 5
        assert answer[2] in CALL_ERROR_CODES and isinstance(answer[3], str) and answer[4] == {}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(texts, min_size=1, max_size=8))
async def test_arbitrary_frames_never_break_the_connection(channel_layer, batch):
    communicator = OcppCommunicator("/ocpp/FUZZ-1")
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    try:
        await communicator.boot()
        for text in batch:
            await communicator.send_text(text)
            unique_id = expected_answer_id(text)
            if unique_id is None:
                assert await communicator.receive_nothing(timeout=0.02), text
                continue
            answer = await communicator.next_frame()
            action = json.loads(text)[2] if len(json.loads(text)) > 2 else None
            assert_valid_answer(answer, unique_id, action)
        await communicator.assert_usable()
    finally:
        await communicator.disconnect()


CHARGE_POINT_ACTIONS = sorted(HANDLERS)
# Extreme values on purpose: OCPP integers are unbounded in the schema.
ocpp_date_times = st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat())


def from_schema(schema: dict, root: dict | None = None):
    """Values the schema accepts (the JSON-schema subset the OCPP 1.6 schemas use)."""
    root = root or schema
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/definitions/")
        return from_schema(root["definitions"][name], root)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        required = {k: from_schema(properties[k], root) for k in schema.get("required", ())}
        optional = {k: from_schema(v, root) for k, v in properties.items() if k not in required}
        return st.fixed_dictionaries(required, optional=optional)
    if kind == "array":
        return st.lists(from_schema(schema["items"], root), max_size=3)
    if kind == "string":
        if schema.get("format") == "date-time":
            return ocpp_date_times
        return st.text(max_size=schema.get("maxLength", 50))
    if kind == "integer":
        return st.integers(min_value=-(2**63), max_value=2**63)
    if kind == "number":
        return st.integers(min_value=-(10**6), max_value=10**6).map(lambda n: n / 10)
    if kind == "boolean":
        return st.booleans()
    raise AssertionError(f"schema construct not covered: {schema}")


@st.composite
def schema_valid_calls(draw):
    """A CALL whose payload the official schema accepts: only semantics can refuse it."""
    action = draw(st.sampled_from(CHARGE_POINT_ACTIONS))
    schema = get_validator(2, action, "1.6").schema
    payload = draw(from_schema(schema))
    return [2, draw(st.text(min_size=1, max_size=36)), action, payload]


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(schema_valid_calls(), min_size=1, max_size=6))
async def test_schema_valid_calls_never_fail_internally(channel_layer, batch):
    communicator = OcppCommunicator("/ocpp/FUZZ-2")
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    try:
        await communicator.boot()
        for frame in batch:
            await communicator.send_text(json.dumps(frame))
            answer = await communicator.next_frame()
            assert_valid_answer(answer, frame[1], frame[2])
            # Extreme but schema-valid values are refused as such, never crash us.
            assert answer[0] == 3 or answer[2] != "InternalError", (frame, answer)
    finally:
        await communicator.disconnect()

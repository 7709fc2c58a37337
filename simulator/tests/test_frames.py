"""The simulator's own OCPP-J 1.6 framing: what it reads, what it refuses and with which code."""

import json

import pytest

from simulator.frames import (
    Call,
    CallError,
    CallResult,
    ErrorCode,
    MalformedCall,
    OcppError,
    Unanswerable,
    call_error_frame,
    call_frame,
    call_result_frame,
    check_request,
    parse_frame,
)


def test_frames_are_read_as_their_message_types():
    assert parse_frame('[2,"7","Reset",{"type":"Soft"}]') == Call("7", "Reset", {"type": "Soft"})
    assert parse_frame('[2,"8","Heartbeat",null]') == Call("8", "Heartbeat", {})
    assert parse_frame('[3,"9",{"status":"Accepted"}]') == CallResult("9", {"status": "Accepted"})
    assert parse_frame('[3,"9",null]') == CallResult("9", {})
    assert parse_frame('[4,"10","GenericError","no",{}]') == CallError("10", "GenericError", "no")


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "{}",
        "[]",
        "[2]",
        '[2,null,"Reset",{}]',
        '[true,"1",{}]',
        '[5,"1",{}]',
        '[3,"1"]',
    ],
)
def test_frames_without_a_usable_unique_id_or_type_are_dropped(text):
    with pytest.raises(Unanswerable):
        parse_frame(text)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('[2,"1","Reset"]', ErrorCode.PROTOCOL_ERROR),
        ('[2,"1",7,{}]', ErrorCode.PROTOCOL_ERROR),
        ('[2,"1","Reset",[]]', ErrorCode.FORMATION_VIOLATION),
    ],
)
def test_malformed_calls_are_answered_with_their_unique_id(text, code):
    with pytest.raises(MalformedCall) as caught:
        parse_frame(text)
    assert (caught.value.unique_id, caught.value.error.code) == ("1", code)


def test_frames_are_compact_json():
    assert call_frame("1", "Heartbeat", {}) == '[2,"1","Heartbeat",{}]'
    assert call_result_frame(5, {"status": "Accepted"}) == '[3,5,{"status":"Accepted"}]'
    error = OcppError(ErrorCode.NOT_SUPPORTED, "not simulated")
    assert json.loads(call_error_frame("2", error)) == [4, "2", "NotSupported", "not simulated", {}]


def with_limit(limit: float) -> dict:
    """A charging profile whose one period has this limit."""
    period = {"startPeriod": 0, "limit": limit}
    return {
        **PROFILE,
        "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [period]},
    }


PROFILE = {
    "chargingProfileId": 1,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 21.4}],
    },
}


@pytest.mark.parametrize(
    ("action", "payload", "code"),
    [
        ("Reset", {}, ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION),
        ("Reset", {"type": "Soft", "extra": 1}, ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION),
        ("Reset", {"type": "Sideways"}, ErrorCode.TYPE_CONSTRAINT_VIOLATION),
        ("UnlockConnector", {"connectorId": "1"}, ErrorCode.TYPE_CONSTRAINT_VIOLATION),
        ("RemoteStartTransaction", {"idTag": "X" * 21}, ErrorCode.TYPE_CONSTRAINT_VIOLATION),
        (
            "ReserveNow",
            {"connectorId": 1, "expiryDate": "tomorrow", "idTag": "T", "reservationId": 1},
            ErrorCode.TYPE_CONSTRAINT_VIOLATION,
        ),
        (
            "SetChargingProfile",
            {"connectorId": 1, "csChargingProfiles": with_limit(21.45)},  # multipleOf 0.1
            ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
        ),
    ],
)
def test_a_call_breaking_its_schema_gets_the_1_6_code(action, payload, code):
    with pytest.raises(OcppError) as caught:
        check_request(action, payload)
    assert caught.value.code == code
    assert caught.value.description


def test_valid_calls_pass_also_with_decimal_steps_and_forgiving_timestamps():
    for limit in (21.4, 0.3, 16):  # 21.4 and 0.3 fail `multipleOf: 0.1` as binary floats
        check_request(
            "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": with_limit(limit)}
        )
    reservation = {"connectorId": 1, "idTag": "T", "reservationId": 1}
    check_request("ReserveNow", {**reservation, "expiryDate": "2030-01-01T00:00:00Z"})
    check_request("ReserveNow", {**reservation, "expiryDate": "2030-01-01T00:00:00"})

"""Unit tests of OCPP-J framing: parsing, payload validation and the answer frames."""

from __future__ import annotations

import json

import pytest

from ocpp_consumer import errors, framing
from ocpp_consumer.framing import (
    BadAnswer,
    BadCall,
    Call,
    CallError,
    CallResult,
    UnanswerableFrame,
    call_error_frame,
    call_frame,
    call_result_frame,
    parse_frame,
    validate_call,
    validate_request,
    validate_result,
)

# --- parse_frame ----------------------------------------------------------------


def test_parse_call():
    assert parse_frame('[2,"id-1","Authorize",{"idTag":"T"}]') == Call(
        "id-1", "Authorize", {"idTag": "T"}
    )


def test_parse_call_null_payload_is_formation_violation():
    with pytest.raises(BadCall) as raised:
        parse_frame('[2,"id-1","Heartbeat",null]')
    assert raised.value.unique_id == "id-1"
    assert isinstance(raised.value.error, errors.FormationViolationError)


def test_parse_call_integer_unique_id():
    assert parse_frame('[2,5,"Heartbeat",{}]').unique_id == 5


def test_parse_call_result():
    assert parse_frame('[3,"id-1",{"status":"Accepted"}]') == CallResult(
        "id-1", {"status": "Accepted"}
    )
    with pytest.raises(BadAnswer) as raised:
        parse_frame('[3,"id-1",null]')
    assert (raised.value.message_type, raised.value.unique_id) == (3, "id-1")


@pytest.mark.parametrize(
    ("text", "details"),
    [
        ('[4,"id-1","GenericError","oops",{"k":1}]', {"k": 1}),
        ('[4,"id-1","GenericError","oops",[1]]', {}),
        ('[4,"id-1","GenericError","oops"]', {}),
    ],
)
def test_parse_call_error(text, details):
    assert parse_frame(text) == CallError("id-1", "GenericError", "oops", details)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "{",
        '{"a": 1}',
        '"text"',
        "[]",
        "[2]",
        '[2,null,"Heartbeat",{}]',
        '[2,true,"Heartbeat",{}]',
        '[2,1.5,"Heartbeat",{}]',
        '[2,{"a":1},"Heartbeat",{}]',
        '["2","id","Heartbeat",{}]',
        '[2.0,"id","Heartbeat",{}]',
        '[true,"id"]',
        '[0,"id","Heartbeat",{}]',
        '[5,"id","Heartbeat",{}]',
        '[3,"id"]',
        '[3,"id",{},{}]',
        '[4,"id","GenericError"]',
    ],
)
def test_unanswerable_frames(text):
    with pytest.raises(UnanswerableFrame):
        parse_frame(text)


@pytest.mark.parametrize(
    ("text", "error_class"),
    [
        ('[2,"id"]', errors.ProtocolError),
        ('[2,"id","Heartbeat"]', errors.ProtocolError),
        ('[2,"id","Heartbeat",{},{}]', errors.ProtocolError),
        ('[2,"id",null,{}]', errors.ProtocolError),
        ('[2,"id",["Heartbeat"],{}]', errors.ProtocolError),
        ('[2,"id","Heartbeat",[]]', errors.FormationViolationError),
        ('[2,"id","Heartbeat","{}"]', errors.FormationViolationError),
        ('[2,"id","Heartbeat",0]', errors.FormationViolationError),
    ],
)
def test_bad_calls_keep_their_unique_id(text, error_class):
    with pytest.raises(BadCall) as caught:
        parse_frame(text)
    assert caught.value.unique_id == "id"
    assert type(caught.value.error) is error_class
    assert caught.value.error.description


# --- validate_call ------------------------------------------------------------------


def _call(action: str, payload: dict) -> Call:
    return Call("id", action, payload)


def _meter_values(*sampled: dict) -> dict:
    return {
        "connectorId": 1,
        "meterValue": [{"timestamp": "2024-05-01T10:00:00Z", "sampledValue": list(sampled)}],
    }


def test_validate_call_returns_valid_payload():
    payload = {"chargePointVendor": "ACME", "chargePointModel": "X"}
    assert validate_call(_call("BootNotification", payload)) == payload


OCCURENCE = errors.OccurenceConstraintViolationError
TYPE = errors.TypeConstraintViolationError
STOP = {"transactionId": 1, "meterStop": 1, "timestamp": "2024-05-01T10:00:00Z"}
START = {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "2024-05-01T10:00:00Z"}


@pytest.mark.parametrize(
    ("action", "payload", "error_class", "where"),
    [
        ("Authorize", {}, OCCURENCE, "payload"),
        ("Heartbeat", {"x": 1}, OCCURENCE, "payload"),
        ("MeterValues", {"connectorId": 1, "meterValue": []}, OCCURENCE, "meterValue"),
        ("MeterValues", _meter_values(), OCCURENCE, "sampledValue"),
        ("MeterValues", _meter_values({"value": "1", "x": 1}), OCCURENCE, "sampledValue/0"),
        ("Authorize", {"idTag": 1}, TYPE, "idTag"),
        ("Authorize", {"idTag": "X" * 21}, TYPE, "idTag"),
        ("StopTransaction", dict(STOP, reason="Bored"), TYPE, "reason"),
        ("StartTransaction", dict(START, timestamp="not a date"), TYPE, "timestamp"),
        ("StartTransaction", dict(START, timestamp="2024-13-45T10:00:00Z"), TYPE, "timestamp"),
        ("MeterValues", _meter_values({"value": None}), TYPE, "value"),
    ],
)
def test_validate_call_errors(action, payload, error_class, where):
    with pytest.raises(errors.OCPPError) as caught:
        validate_call(_call(action, payload))
    assert type(caught.value) is error_class
    assert where in caught.value.description
    assert len(caught.value.description) <= 500


@pytest.mark.parametrize(
    "timestamp", ["2024-05-01T10:00:00Z", "2024-05-01T10:00:00.123+02:00", "2024-05-01T10:00:00"]
)
def test_validate_call_accepts_lenient_timestamps(timestamp):
    payload = {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": timestamp}
    assert validate_call(_call("StartTransaction", payload)) == payload


@pytest.mark.parametrize(("number", "text"), [(230.5, "230.5"), (12, "12"), (-1, "-1")])
def test_validate_call_reads_numeric_sampled_value_as_string(number, text):
    payload = validate_call(_call("MeterValues", _meter_values({"value": number})))
    assert payload["meterValue"][0]["sampledValue"] == [{"value": text}]


def test_validate_call_numeric_value_in_stop_transaction_data():
    payload = {
        "transactionId": 1,
        "meterStop": 1,
        "timestamp": "2024-05-01T10:00:00Z",
        "transactionData": [{"timestamp": "2024-05-01T10:00:00Z", "sampledValue": [{"value": 7}]}],
    }
    assert validate_call(_call("StopTransaction", payload))["transactionData"][0][
        "sampledValue"
    ] == [{"value": "7"}]


def test_numeric_value_tolerated_only_where_sampled_values_live():
    payload = {"vendorId": "v", "data": 5}
    with pytest.raises(errors.TypeConstraintViolationError):
        validate_call(_call("DataTransfer", payload))


def test_validate_call_tolerance_survives_odd_shapes():
    # Wrong shapes are left to the schema, not crashed on.
    payload = {"connectorId": 1, "meterValue": ["x", {"sampledValue": ["y"]}]}
    with pytest.raises(errors.OCPPError):
        validate_call(_call("MeterValues", payload))


# --- validate_result / validate_request -----------------------------------------------


def test_validate_result():
    validate_result("Heartbeat", {"currentTime": "2024-05-01T10:00:00.000Z"})
    validate_result("StatusNotification", {})
    with pytest.raises(errors.OccurenceConstraintViolationError):
        validate_result("Heartbeat", {})
    with pytest.raises(errors.TypeConstraintViolationError):
        validate_result("DataTransfer", {"status": "Maybe"})
    with pytest.raises(errors.OccurenceConstraintViolationError):
        validate_result("StopTransaction", {"transactionId": 1})


def test_validate_request_unknown_keyword_is_property_constraint_violation():
    payload = {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.05}],
            },
        },
    }
    with pytest.raises(errors.PropertyConstraintViolationError):  # multipleOf 0.1
        validate_request("SetChargingProfile", payload)
    period = payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]
    for limit in (16, 21.4, 0.3):  # multiples of 0.1 that binary floats get wrong
        period["limit"] = limit
        validate_request("SetChargingProfile", payload)
    assert period["limit"] == 0.3 and type(period["limit"]) is float, "payload left untouched"


# --- answer frames ------------------------------------------------------------------


def test_call_result_frame():
    assert call_result_frame("id-1", {"status": "Accepted"}) == '[3,"id-1",{"status":"Accepted"}]'
    assert call_result_frame(7, {}) == "[3,7,{}]"


def test_call_frame():
    assert call_frame("id-1", "Reset", {"type": "Soft"}) == '[2,"id-1","Reset",{"type":"Soft"}]'


def test_call_error_frame():
    frame = call_error_frame("id-1", errors.NotImplementedError("unknown action 'X'"))
    assert frame == '[4,"id-1","NotImplemented","unknown action \'X\'",{}]'


def test_call_error_frame_drops_details_and_defaults_description():
    error = errors.GenericError(details={"secret": "stack"})
    unique_id, code, description, details = json.loads(call_error_frame("id", error))[1:]
    assert (unique_id, code, details) == ("id", "GenericError", {})
    assert isinstance(description, str)
    assert json.loads(call_error_frame("id", errors.GenericError("")))[3] == ""


@pytest.mark.parametrize("error_class", [errors.FormationViolationError, errors.SecurityError])
def test_call_error_frame_uses_16_codes(error_class):
    assert json.loads(call_error_frame("id", error_class("d")))[2] in errors.CALL_ERROR_CODES


def test_known_actions_are_the_16_ones():
    assert {"BootNotification", "Heartbeat", "Reset", "DataTransfer"} <= framing.KNOWN_ACTIONS
    assert "NotifyReport" not in framing.KNOWN_ACTIONS  # a 2.0.1 action


def test_huge_number_against_multiple_of_is_a_property_constraint_violation():
    from ocpp_consumer import errors as ocpp_errors

    payload = {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": -3.7e33}],
            },
        },
    }
    with pytest.raises(ocpp_errors.PropertyConstraintViolationError):
        framing.validate_request("SetChargingProfile", payload)


def test_schemas_parsed_with_decimal_by_the_ocpp_package_still_validate():
    """The `ocpp` package caches one schema per action, parsed with Decimal when its own
    ChargePoint asked first (a simulator in this process): validation must not care."""
    from decimal import Decimal

    from ocpp.messages import MessageType, _validators, get_validator

    from ocpp_consumer import framing

    _validators.pop("RemoteStartTransaction_1.6", None)
    framing._compiled.cache_clear()
    framing._validator.cache_clear()
    get_validator(MessageType.Call, "RemoteStartTransaction", "1.6", parse_float=Decimal)
    payload = {
        "idTag": "TAG-1",
        "connectorId": 1,
        "chargingProfile": {
            "chargingProfileId": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.1}],
            },
        },
    }
    framing.validate_request("RemoteStartTransaction", payload, framing.V16)
    _validators.pop("RemoteStartTransaction_1.6", None)
    framing._compiled.cache_clear()
    framing._validator.cache_clear()

"""Every OCPP 2.0.1 message the simulator builds, checked against the official 2.0.1
schemas (ocpp.messages.get_validator), and the 2.0.1 spelling of its CALLERRORs."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import pytest
from ocpp.messages import MessageType, get_validator

from simulator.config import SimulationConfig
from simulator.dialects import dialect_for
from simulator.dialects.ocpp201 import OCPP201
from simulator.dialects.ocpp201_answers import report_data
from simulator.dialects.ocpp201_messages import id_token, meter_value, transaction_event
from simulator.frames import ErrorCode, OcppError, check_request, wire_code
from simulator.state import Connector


def assert_valid(action: str, payload: dict, message_type: int = MessageType.Call) -> None:
    validator = get_validator(message_type, action, "2.0.1", parse_float=Decimal)
    validator.validate(json.loads(json.dumps(payload), parse_float=Decimal))


class FakeChargePoint:
    """Just what the payload builders read of a charge point."""

    charge_point_id = "SIM-00001"
    reset_boot = False
    heartbeat_interval = 300.0
    meter_interval = 60.0
    extra_configuration: dict = {}


@pytest.fixture
def charging():
    connector = Connector(connector_id=2, register_wh=12_345.6)
    connector.transaction_id = "0d8c8f3e-7a84-4b6e-9d3c-8a1f2f3e4d5c"
    connector.power_w = 11_000.4
    connector.charging_since = 0.0
    return connector


def test_the_2_0_1_dialect_is_found_by_version():
    assert dialect_for("2.0.1") is OCPP201
    assert (OCPP201.subprotocol, OCPP201.version) == ("ocpp2.0.1", "2.0.1")
    config = SimulationConfig(url="ws://127.0.0.1:1/", ocpp_version="2.0.1")
    assert config.version_for(0) == "2.0.1"


def test_boot_and_status_payloads_are_valid():
    cp = FakeChargePoint()
    assert_valid("BootNotification", OCPP201.boot_payload(cp))
    assert OCPP201.boot_payload(cp)["reason"] == "PowerUp"
    assert OCPP201.boot_payload(cp, triggered=True)["reason"] == "Triggered"
    cp.reset_boot = True
    assert OCPP201.boot_payload(cp)["reason"] == "RemoteReset"
    for status in ("Available", "Occupied", "Unavailable"):
        payload = OCPP201.status_payload(3, status)
        assert_valid("StatusNotification", payload)
        assert (payload["evseId"], payload["connectorId"], payload["connectorStatus"]) == (
            3,
            1,
            status,
        )
    assert OCPP201.status_payload(0, "Available") is None  # no station-wide status in 2.0.1
    assert_valid("Heartbeat", {})
    assert_valid("Authorize", {"idToken": id_token("SIMTAG0001")})


@pytest.mark.parametrize(
    ("event_type", "trigger", "state", "context", "extra"),
    [
        ("Started", "Authorized", "EVConnected", "Transaction.Begin", {"idToken": id_token("T")}),
        ("Updated", "ChargingStateChanged", "Charging", None, {}),
        ("Updated", "MeterValuePeriodic", "Charging", "Sample.Periodic", {}),
        ("Updated", "Trigger", "Charging", "Trigger", {}),
        ("Ended", "StopAuthorized", "EVConnected", "Transaction.End", {"idToken": id_token("T")}),
        ("Ended", "RemoteStop", "EVConnected", "Transaction.End", {}),
    ],
)
def test_transaction_events_are_valid(charging, event_type, trigger, state, context, extra):
    meter = meter_value(charging, context) if context else None
    payload = transaction_event(charging, event_type, trigger, state, meter=meter, **extra)
    if event_type == "Ended":
        payload["transactionInfo"]["stoppedReason"] = "Local"
    assert_valid("TransactionEvent", payload)
    assert payload["seqNo"] == 0 and charging.seq_no == 1  # the next event's
    if meter:
        energy, power = payload["meterValue"][0]["sampledValue"]
        assert energy["value"] >= 12_345  # a number in 2.0.1, not a string
        assert energy["unitOfMeasure"] == {"unit": "Wh"}
        assert power["value"] == 11_000 and power["unitOfMeasure"] == {"unit": "W"}


def test_triggered_and_reporting_messages_are_valid(charging):
    assert_valid("MeterValues", {"evseId": 2, "meterValue": [meter_value(charging, "Trigger")]})
    assert_valid("LogStatusNotification", {"status": "Idle"})
    assert_valid("FirmwareStatusNotification", {"status": "Idle"})
    cp = FakeChargePoint()
    report = {
        "requestId": 1,
        "generatedAt": "2030-01-01T00:00:00.000Z",
        "seqNo": 0,
        "tbc": False,
        "reportData": report_data(cp),
    }
    assert_valid("NotifyReport", report)


def test_the_schema_check_uses_2_0_1_and_its_error_spellings():
    check_request("Reset", {"type": "Immediate"}, "2.0.1")
    with pytest.raises(OcppError) as caught:
        check_request("Reset", {"type": "Soft"}, "2.0.1")  # a 1.6 value
    assert caught.value.code == ErrorCode.TYPE_CONSTRAINT_VIOLATION
    with pytest.raises(OcppError) as caught:
        check_request("Reset", {}, "2.0.1")
    assert wire_code(caught.value.code, "2.0.1") == "OccurrenceConstraintViolation"
    assert wire_code(caught.value.code, "1.6") == "OccurenceConstraintViolation"
    assert wire_code(ErrorCode.FORMATION_VIOLATION, "2.0.1") == "FormatViolation"
    assert wire_code(ErrorCode.NOT_SUPPORTED, "2.0.1") == "NotSupported"


def test_a_session_s_random_power_stays_within_the_schema(charging):
    rng = random.Random(3)
    for _ in range(20):
        charging.power_w = rng.uniform(3_700, 22_000)
        assert_valid(
            "TransactionEvent",
            transaction_event(
                charging,
                "Updated",
                "MeterValuePeriodic",
                "Charging",
                meter=meter_value(charging, "Sample.Periodic"),
            ),
        )

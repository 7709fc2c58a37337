"""The fleet in OCPP 2.0.1: which charge points speak it, their frames (valid against
the official 2.0.1 schemas), the schedule they share with 1.6, the accounting of a
2.0.1 session and the nothing-lost check per version."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from decimal import Decimal

import pytest
from ocpp.messages import MessageType, get_validator

from bench.loadgen.fleet import Accounting, FleetCP201, status_payload_201
from bench.loadgen.fleet_plan import (
    AVAILABLE,
    CHARGING,
    FINISHING,
    HEARTBEAT,
    METER,
    PREPARING,
    START,
    STOP,
    FleetParams,
    nothing_lost_by_version,
    ocpp_version,
    schedule,
)
from bench.run import build_parser
from bench.scenarios.fleet import merge_reports

PARAMS = FleetParams(
    heartbeat_s=30, meter_s=10, session_s=120, status_gap_s=1, start_spread_s=20, seed=7
)
KINDS = [HEARTBEAT, PREPARING, START, CHARGING, METER, STOP, FINISHING, AVAILABLE]


def _params(share: float) -> FleetParams:
    return FleetParams(**{**PARAMS.__dict__, "ocpp201_share": share})


def _versions(share: float, first: int, count: int) -> list[str]:
    params = _params(share)
    return [ocpp_version(i, params) for i in range(first, first + count)]


@pytest.mark.parametrize("share", [0.0, 0.3, 0.5, 1.0])
def test_the_share_of_201_charge_points_holds_in_any_slice(share):
    assert _versions(share, 0, 1000).count("2.0.1") == round(1000 * share)
    # A load generator's slice holds the share within one charge point.
    assert abs(_versions(share, 137, 400).count("2.0.1") - 400 * share) <= 1


def test_versions_are_interleaved():
    assert _versions(0.5, 0, 6) == ["1.6", "2.0.1"] * 3


def test_201_charge_points_play_the_same_schedule():
    for index in range(20):
        plain = list(schedule(index, PARAMS, 600))
        assert list(schedule(index, _params(0.5), 600)) == plain


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_the_share_is_checked(share):
    with pytest.raises(ValueError):
        _params(share)


def test_the_bench_option_refuses_a_share_beyond_one():
    parser = build_parser()
    assert parser.parse_args(["fleet", "--ocpp201-share", "0.25"]).ocpp201_share == 0.25
    with pytest.raises(SystemExit):
        parser.parse_args(["fleet", "--ocpp201-share", "2"])


def _life(acc: Accounting) -> FleetCP201:
    args = argparse.Namespace(id_tag_format="BENCHTAG{:05d}", samples=3)
    return FleetCP201(None, 12, args, acc, Counter())


def _valid_201(action: str, payload: str) -> list[str]:
    validator = get_validator(MessageType.Call, action, "2.0.1", Decimal)
    return [e.message for e in validator.iter_errors(json.loads(payload, parse_float=Decimal))]


@pytest.mark.parametrize("kind", KINDS)
def test_payloads_are_valid_ocpp201(kind):
    life = _life(Accounting())
    life.payload(START)  # a transaction for the session's later steps
    action, _ = life.call_name(kind)
    assert _valid_201(action, life.payload(kind)) == []


def test_the_first_status_is_valid_ocpp201():
    payload = status_payload_201("Available")
    assert _valid_201("StatusNotification", payload) == []
    assert json.loads(payload)["connectorStatus"] == "Available"


def test_labels_name_the_201_messages():
    life = _life(Accounting())
    labels = {kind: life.call_name(kind) for kind in KINDS}
    assert labels[START] == ("TransactionEvent", "TransactionEvent Started")
    assert labels[METER] == ("TransactionEvent", "TransactionEvent Updated")
    assert labels[STOP] == ("TransactionEvent", "TransactionEvent Ended")
    assert labels[HEARTBEAT] == ("Heartbeat", "Heartbeat (2.0.1)")
    assert labels[CHARGING] == ("StatusNotification", "StatusNotification Occupied (2.0.1)")
    assert labels[AVAILABLE] == ("StatusNotification", "StatusNotification Available (2.0.1)")


def test_a_201_session_and_its_accounting():
    acc = Accounting()
    life = _life(acc)
    assert life.payload(METER) is None  # no transaction yet: skipped and counted
    started = json.loads(life.payload(START))
    tx = started["transactionInfo"]["transactionId"]
    assert started["eventType"] == "Started" and started["seqNo"] == 0
    assert started["idToken"] == {"idToken": "BENCHTAG00012", "type": "ISO14443"}
    assert started["evse"] == {"id": 1, "connectorId": 1}
    life.account(START, [3, "1", {"idTokenInfo": {"status": "Accepted"}}])
    updates = [json.loads(life.payload(METER)) for _ in range(2)]
    for _ in updates:
        life.account(METER, [3, "2", {}])
    life.account(METER, [4, "3", "InternalError", "", {}])  # a CALLERROR: not stored
    ended = json.loads(life.payload(STOP))
    life.account(STOP, [3, "4", {}])
    events = [started, *updates, ended]
    assert [e["seqNo"] for e in events] == [0, 1, 2, 3]
    assert {e["transactionInfo"]["transactionId"] for e in events} == {tx}
    assert [e["eventType"] for e in events] == ["Started", "Updated", "Updated", "Ended"]
    registers = [e["meterValue"][0]["sampledValue"][0]["value"] for e in events]
    assert registers == sorted(registers) and registers[-1] > registers[0]
    assert [len(u["meterValue"][0]["sampledValue"]) for u in updates] == [3, 3]
    assert {u["meterValue"][0]["sampledValue"][0]["context"] for u in updates} == {
        "Sample.Periodic"
    }
    assert life.tx is None and life.payload(METER) is None
    # A refused start: no transaction, its steps are skipped.
    life.payload(START)
    life.account(START, [4, "5", "InternalError", "", {}])
    assert life.tx is None
    assert acc.report() == {
        "transaction_ids": [tx],
        "meter_values_answered": 2,
        "stops_answered": 1,
        "starts_without_transaction": 1,
        "steps_skipped_no_transaction": 2,
    }


def test_each_start_names_a_new_transaction():
    life = _life(Accounting())
    first = json.loads(life.payload(START))["transactionInfo"]["transactionId"]
    second = json.loads(life.payload(START))["transactionInfo"]["transactionId"]
    assert first != second and len(first) <= 36


SENT = {
    "1.6": {"transaction_ids": [1, 2], "meter_values_answered": 4, "stops_answered": 1},
    "2.0.1": {"transaction_ids": ["a", "b"], "meter_values_answered": 5, "stops_answered": 2},
}
STORED = {
    "1.6": {"sessions_found": 2, "meter_values_periodic": 12, "sessions_ended": 1},
    "2.0.1": {"sessions_found": 2, "meter_values_periodic": 15, "sessions_ended": 2},
}


def test_nothing_lost_in_either_version():
    check = nothing_lost_by_version(SENT, STORED, samples=3)
    assert check["nothing_lost"] is True
    assert check["2.0.1"]["sessions_answered"] == 2 and check["1.6"]["meter_rows_expected"] == 12


@pytest.mark.parametrize(
    "missing, lost_key",
    [
        ({"sessions_found": 1}, "sessions_lost"),
        ({"meter_values_periodic": 14}, "meter_rows_lost"),
        ({"sessions_ended": 1}, "stops_lost"),
    ],
)
def test_a_201_record_missing_is_a_loss(missing, lost_key):
    stored = {**STORED, "2.0.1": {**STORED["2.0.1"], **missing}}
    check = nothing_lost_by_version(SENT, stored, samples=3)
    assert check["nothing_lost"] is False
    assert check["2.0.1"][lost_key] == 1 and check["1.6"]["nothing_lost"] is True


def test_merge_reports_keeps_the_versions_apart():
    def part(sent: dict) -> dict:
        return {
            "latencies_ms": {"TransactionEvent Updated": [2.0], "MeterValues": [1.0]},
            "errors": {},
            "call_errors": {},
            "lost": {},
            "answered": {},
            "sent": sent,
            "connected": 4,
            "open_at_end": 4,
            "ramp_s": 1.0,
            "cpu_s": 1.0,
            "nofile": 65536,
            "boot_problems": {},
        }

    merged = merge_reports([part(SENT), part({"2.0.1": SENT["2.0.1"]})], horizon=1.0)
    assert merged["sent"]["1.6"] == SENT["1.6"]
    assert merged["sent"]["2.0.1"] == {
        "transaction_ids": ["a", "b", "a", "b"],
        "meter_values_answered": 10,
        "stops_answered": 4,
    }
    assert merged["by_action"]["TransactionEvent Updated"]["n"] == 2

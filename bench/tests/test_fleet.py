"""The fleet scenario's logic without a clock: the traffic schedule, the split over load
generators and source addresses, the payloads (valid OCPP 1.6), the accounting of
what was answered, and the nothing-lost and invoicing checks."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from decimal import Decimal

import pytest
from ocpp.messages import MessageType, get_validator

from bench.loadgen.fleet import Accounting, FleetCP
from bench.loadgen.fleet_plan import (
    AVAILABLE,
    CHARGING,
    FINISHING,
    HEARTBEAT,
    METER,
    PER_SOURCE_ADDRESS,
    PREPARING,
    START,
    STOP,
    FleetParams,
    expected_rates,
    nothing_lost,
    schedule,
    source_addresses,
    split,
)
from bench.scenarios.deployed import invoices_outstanding
from bench.scenarios.fleet import merge_reports

PARAMS = FleetParams(
    heartbeat_s=30, meter_s=10, session_s=120, status_gap_s=1, start_spread_s=20, seed=7
)


def test_schedule_is_ordered_bounded_and_repeatable():
    events = list(schedule(3, PARAMS, 900))
    assert events == list(schedule(3, PARAMS, 900))
    assert events != list(schedule(4, PARAMS, 900))
    times = [t for t, _ in events]
    assert times == sorted(times)
    assert 0 <= times[0] and times[-1] < 900


def test_heartbeats_every_interval_from_a_phase_within_the_first():
    beats = [t for t, kind in schedule(5, PARAMS, 600) if kind == HEARTBEAT]
    assert beats[0] < PARAMS.heartbeat_s
    assert {round(b - a, 6) for a, b in zip(beats, beats[1:], strict=False)} == {30.0}
    assert len(beats) in (20, 19)


@pytest.mark.parametrize("index", range(40))
def test_sessions_follow_the_charger_sequence(index):
    """Preparing, Start, Charging, MeterValues every meter_s, Stop, Finishing, Available."""
    kinds = [(t, k) for t, k in schedule(index, PARAMS, 2000) if k != HEARTBEAT]
    state, last_meter = "idle", None
    expected_next = {
        "idle": {PREPARING},
        PREPARING: {START},
        START: {CHARGING},
        CHARGING: {METER, STOP},
        METER: {METER, STOP},
        STOP: {FINISHING},
        FINISHING: {AVAILABLE},
        AVAILABLE: {PREPARING},
    }
    for t, kind in kinds:
        assert kind in expected_next[state], (index, state, kind)
        if kind == METER:
            if last_meter is not None:
                assert t - last_meter == pytest.approx(PARAMS.meter_s)
            last_meter = t
        elif kind == STOP:
            last_meter = None
        state = kind


def test_about_a_third_of_the_connectors_charge_at_any_time():
    def charging_at(index: int, at: float) -> bool:
        state = False
        for _t, kind in schedule(index, PARAMS, at):
            if kind == START:
                state = True
            elif kind == STOP:
                state = False
        return state

    for at in (60.0, 1500.0):
        share = sum(charging_at(i, at) for i in range(3000)) / 3000
        assert 0.27 < share < 0.40, (at, share)


def test_the_first_sessions_start_within_the_spread():
    params = FleetParams(start_spread_s=600, session_s=1800, seed=3)
    firsts = []
    for index in range(3000):
        starts = [t for t, kind in schedule(index, params, 700) if kind == START]
        if starts and starts[0] < 600:
            firsts.append(starts[0])
    # The charging third, and the few idle ones whose short first gap ends early.
    assert 1200 < len(firsts) < 1600
    assert max(firsts) < 600 and min(firsts) < 30


def test_expected_rates():
    rates = expected_rates(50_000, FleetParams())
    assert rates[HEARTBEAT] == pytest.approx(50_000 / 300, abs=0.01)
    assert rates[METER] == pytest.approx(50_000 / 3 / 60, abs=0.01)
    # A session every session + gap = 5,400 s per connector.
    assert rates[START] == pytest.approx(50_000 / 5400, abs=0.001)


def test_params_are_checked():
    with pytest.raises(ValueError):
        FleetParams(charging_share=1.0)
    with pytest.raises(ValueError):
        FleetParams(meter_s=0)


def test_split_and_source_addresses_for_50000():
    slices = split(50_000, 4)
    assert [c for _, c in slices] == [12_500] * 4
    assert [f for f, _ in slices] == [0, 12_500, 25_000, 37_500]
    addresses = source_addresses(slices)
    flat = [a for per_process in addresses for a in per_process]
    assert len(flat) == len(set(flat)) == 4 and flat[0] == "127.0.0.2"
    # One process holding all 50,000: three addresses, none above the per-address cap.
    (single,) = source_addresses(split(50_000, 1))
    assert len(single) == 3 and 50_000 / len(single) <= PER_SOURCE_ADDRESS
    assert split(7, 3) == [(0, 3), (3, 2), (5, 2)]
    with pytest.raises(ValueError):
        split(2, 3)


def _fleet_cp(acc: Accounting) -> FleetCP:
    args = argparse.Namespace(id_tag_format="BENCHTAG{:05d}", samples=3)
    return FleetCP(None, 12, args, acc, Counter())


@pytest.mark.parametrize(
    "kind", [HEARTBEAT, PREPARING, START, CHARGING, METER, STOP, FINISHING, AVAILABLE]
)
def test_payloads_are_valid_ocpp16(kind):
    life = _fleet_cp(Accounting())
    life.tx = 41
    payload = life.payload(kind)
    action = kind.split(" ", 1)[0]
    validator = get_validator(MessageType.Call, action, "1.6", Decimal)
    assert list(validator.iter_errors(json.loads(payload, parse_float=Decimal))) == []


def test_accounting_of_a_session():
    acc = Accounting()
    life = _fleet_cp(acc)
    assert life.payload(METER) is None  # no transaction yet: skipped and counted
    life.payload(START)
    life.account(START, [3, "1", {"transactionId": 41, "idTagInfo": {"status": "Accepted"}}])
    assert json.loads(life.payload(METER))["transactionId"] == 41
    life.account(METER, [3, "2", {}])
    life.account(METER, [4, "3", "InternalError", "", {}])  # a CALLERROR: not stored
    register = json.loads(life.payload(STOP))["meterStop"]
    assert register > 0
    life.account(STOP, [3, "4", {}])
    assert life.tx is None and life.payload(METER) is None
    life.account(START, [4, "5", "InternalError", "", {}])
    assert acc.report() == {
        "transaction_ids": [41],
        "meter_values_answered": 1,
        "stops_answered": 1,
        "starts_without_transaction": 1,
        "steps_skipped_no_transaction": 2,
    }


def test_nothing_lost_when_the_database_holds_everything_answered():
    sent = {"transaction_ids": [1, 2, 3], "meter_values_answered": 10, "stops_answered": 2}
    stored = {"sessions_found": 3, "meter_values_periodic": 32, "sessions_ended": 2}
    check = nothing_lost(sent, stored, samples=3)
    assert check["nothing_lost"] is True
    # Two rows more than answered: a MeterValues stored whose answer never arrived.
    assert check["meter_rows_unanswered_but_stored"] == 2 and check["meter_rows_lost"] == 0


@pytest.mark.parametrize(
    "stored, lost_key",
    [
        ({"sessions_found": 2, "meter_values_periodic": 30, "sessions_ended": 2}, "sessions_lost"),
        (
            {"sessions_found": 3, "meter_values_periodic": 29, "sessions_ended": 2},
            "meter_rows_lost",
        ),
        ({"sessions_found": 3, "meter_values_periodic": 30, "sessions_ended": 1}, "stops_lost"),
    ],
)
def test_a_missing_record_is_a_loss(stored, lost_key):
    sent = {"transaction_ids": [1, 2, 3], "meter_values_answered": 10, "stops_answered": 2}
    check = nothing_lost(sent, stored, samples=3)
    assert check["nothing_lost"] is False and check[lost_key] == 1


def test_a_transaction_id_answered_twice_is_not_nothing_lost():
    sent = {"transaction_ids": [1, 1], "meter_values_answered": 0, "stops_answered": 0}
    stored = {"sessions_found": 1, "meter_values_periodic": 0, "sessions_ended": 0}
    check = nothing_lost(sent, stored, samples=3)
    assert check["duplicate_transaction_ids"] == 1 and check["nothing_lost"] is False


def _part(latencies: dict, tx: list[int], lost: dict) -> dict:
    return {
        "latencies_ms": latencies,
        "errors": {"handshake: timeout": 1},
        "call_errors": {},
        "lost": lost,
        "answered": {k: len(v) for k, v in latencies.items()},
        "sent": {"1.6": {"transaction_ids": tx, "meter_values_answered": 2, "stops_answered": 1}},
        "connected": 10,
        "open_at_end": 10,
        "ramp_s": 1.5,
        "cpu_s": 1.0,
        "nofile": 65536,
        "boot_problems": {},
    }


def test_merge_reports_pools_every_value():
    parts = [
        _part({HEARTBEAT: [1.0, 2.0], METER: [5.0]}, [1], {"reconnected": 1, "dropped": 1}),
        _part({HEARTBEAT: [3.0, 100.0]}, [2, 3], {}),
    ]
    merged = merge_reports(parts, horizon=2.0)
    assert merged["by_action"][HEARTBEAT]["n"] == 4
    assert merged["by_action"][HEARTBEAT]["max_ms"] == 100.0
    assert merged["by_action"][HEARTBEAT]["msgs_per_s"] == 2.0
    assert merged["sent"] == {
        "1.6": {"transaction_ids": [1, 2, 3], "meter_values_answered": 4, "stops_answered": 2}
    }
    assert merged["lost"] == {"dropped": 1} and merged["reconnects"] == 1
    assert merged["errors"] == {"handshake: timeout": 2} and merged["connected"] == 20


def test_invoices_outstanding():
    state = {
        "sessions_ended": 10,
        "sessions_disputed": 2,
        "invoices": 7,
        "billing_failures": 0,
        "outbox_pending": {"invoicing": 1},
    }
    assert invoices_outstanding(state) == 2
    state.update(invoices=8, outbox_pending={})
    assert invoices_outstanding(state) == 0
    assert invoices_outstanding({"error": "x"}) is None

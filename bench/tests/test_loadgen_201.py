"""The load generator in OCPP 2.0.1: every frame valid against the official 2.0.1
schemas, the durable mode as TransactionEvents, and the echo reference in 2.0.1."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from ocpp.messages import MessageType, get_validator
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

from bench import loadgen
from bench.echo_server import select_subprotocol
from bench.report import _stem
from bench.run import _versions
from bench.scenarios.common import add_ratios, version_prefix
from csms_project.testing import free_port

PROJECT = Path(__file__).resolve().parents[2]


class ValidatingCsms:
    """A websockets server answering like a CSMS, checking each CALL against its schema."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict]] = []  # (subprotocol, action, payload)
        self.invalid: list[tuple[str, str]] = []

    async def handle(self, websocket) -> None:
        version = {"ocpp2.0.1": "2.0.1", "ocpp1.6": "1.6"}[websocket.subprotocol]
        with contextlib.suppress(ConnectionClosed):
            async for text in websocket:
                _, unique_id, action, payload = json.loads(text)
                self.calls.append((version, action, payload))
                validator = get_validator(MessageType.Call, action, version, Decimal)
                errors = list(validator.iter_errors(json.loads(text, parse_float=Decimal)[3]))
                if errors:
                    self.invalid.append((action, errors[0].message))
                now = datetime.now(UTC).isoformat()
                answer = {
                    "BootNotification": {"status": "Accepted", "currentTime": now, "interval": 60},
                    "Heartbeat": {"currentTime": now},
                }.get(action, {})
                await websocket.send(json.dumps([3, unique_id, answer]))


def options(url: str, **overrides) -> loadgen.Options:
    defaults = dict(url=url, connections=2, id_prefix="T-", ocpp_version="2.0.1")
    extra = {"meter_values": 2, "samples": 3}
    return loadgen.Options(**{**defaults, **overrides}, extra=extra)


async def test_durable_2_0_1_sends_valid_transaction_events():
    csms = ValidatingCsms()
    async with serve(csms.handle, "127.0.0.1", 0, subprotocols=["ocpp2.0.1"]) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/ocpp/"
        report = await loadgen.run_traffic("durable", options(url), 1.0, 0.2, quiet=True)

    assert csms.invalid == []
    assert {version for version, _, _ in csms.calls} == {"2.0.1"}
    assert [action for _, action, _ in csms.calls[:2]] == ["BootNotification"] * 2
    events = [p for _, action, p in csms.calls if action == "TransactionEvent"]
    assert {"Started", "Updated", "Ended"} <= {e["eventType"] for e in events}
    started = next(e for e in events if e["eventType"] == "Started")
    session = [
        e
        for e in events
        if e["transactionInfo"]["transactionId"] == started["transactionInfo"]["transactionId"]
    ]
    assert [e["eventType"] for e in session] == ["Started", "Updated", "Updated", "Ended"]
    assert [e["seqNo"] for e in session] == [0, 1, 2, 3]
    assert len(session[1]["meterValue"][0]["sampledValue"]) == 3
    assert session[-1]["transactionInfo"]["stoppedReason"] == "Local"
    assert report["errors"] == {} and report["call_errors"] == {}
    assert set(report["by_action"]) == {
        "TransactionEvent Started",
        "TransactionEvent Updated",
        "TransactionEvent Ended",
    }


async def test_heartbeat_2_0_1_boots_and_heartbeats_validly():
    csms = ValidatingCsms()
    async with serve(csms.handle, "127.0.0.1", 0, subprotocols=["ocpp2.0.1"]) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/ocpp/"
        report = await loadgen.run_traffic("heartbeat", options(url), 0.5, 0.1, quiet=True)
    assert csms.invalid == []
    assert report["msgs"] > 0 and report["errors"] == {}
    assert {action for _, action, _ in csms.calls} == {"BootNotification", "Heartbeat"}


def test_the_echo_server_prefers_2_0_1_and_still_speaks_1_6():
    assert select_subprotocol(None, ["ocpp2.0.1"]) == "ocpp2.0.1"
    assert select_subprotocol(None, ["ocpp1.6"]) == "ocpp1.6"
    assert select_subprotocol(None, ["ocpp1.6", "ocpp2.0.1"]) == "ocpp2.0.1"
    assert select_subprotocol(None, ["ocpp1.5"]) is None


@pytest.mark.e2e
@pytest.mark.parametrize("client", ["lean", "websockets"])
def test_the_echo_server_process_echoes_2_0_1_traffic(client):
    port = free_port()
    echo = subprocess.Popen(
        [sys.executable, "-m", "bench.echo_server", "--port", str(port)],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "echo server on" in echo.stdout.readline()
        url = f"ws://127.0.0.1:{port}/ocpp/"
        for mode in ("heartbeat", "durable"):
            opts = options(url, client=client)
            report = asyncio.run(loadgen.run_traffic(mode, opts, 0.5, 0.1, quiet=True))
            assert report["msgs"] > 0, mode
            assert report["errors"] == {} and report["call_errors"] == {}, report
    finally:
        echo.terminate()
        echo.wait(10)


def test_bench_run_takes_one_or_both_versions_where_they_fit():
    assert _versions("1.6", "heartbeat", suite=False) == ["1.6"]
    assert _versions("2.0.1,1.6,2.0.1", "durable", suite=False) == ["2.0.1", "1.6"]
    assert _versions("2.0.1", "storm", suite=False) == ["2.0.1"]
    assert _versions("1.6,2.0.1", "storm", suite=True) == ["1.6"]
    assert _versions("2.0.1", "command", suite=True) == ["1.6"]
    for text, scenario, message in [
        ("2.0", "heartbeat", "wants 1.6 and/or 2.0.1"),
        ("2.0.1", "command", "1.6 commands only"),
        ("1.6,2.0.1", "idle", "idle takes one version"),
    ]:
        with pytest.raises(SystemExit, match=message):
            _versions(text, scenario, suite=False)


def test_results_and_ratios_are_per_version():
    args = argparse.Namespace(label=None, mode="heartbeat", ocpp_versions=["1.6", "2.0.1"])
    assert _stem("durable", args).endswith("-durable-ocpp16+201")
    args.ocpp_versions = ["1.6"]
    assert _stem("durable", args).endswith("-durable")  # the names of the earlier results
    assert version_prefix("HB-", "2.0.1") == "HB201-"
    assert version_prefix("HB-", "1.6") == "HB-"
    rows = [
        {"server": "echo", "ocpp": "1.6", "connections": 10, "msgs_per_s": 1000.0},
        {"server": "echo", "ocpp": "2.0.1", "connections": 10, "msgs_per_s": 800.0},
        {"server": "daphne+pg", "ocpp": "1.6", "connections": 10, "msgs_per_s": 500.0},
        {"server": "daphne+pg", "ocpp": "2.0.1", "connections": 10, "msgs_per_s": 400.0},
    ]
    add_ratios(rows)
    assert [row["ratio_to_echo"] for row in rows] == [1.0, 1.0, 0.5, 0.5]

"""`manage.py simulate` and its library, against a scripted CSMS and against real Daphne.

The scripted CSMS is websockets' own server in the test process: it checks
every frame the simulator sends against the official OCPP 1.6 schemas and
plays what a real CSMS rarely does on cue (Pending, refusals, silence,
dropped sockets). The end-to-end tests run the project's Daphne as a real
process on 127.0.0.1 sharing the test database, as the other e2e tests do.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from datetime import UTC, datetime
from http import HTTPStatus
from urllib.parse import unquote

import pytest
import trustme
from django.core.management import call_command
from django.core.management.base import CommandError
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

from csms_project import testing
from drivers.models import IdTag, User
from ocpp_consumer import errors, framing
from ocpp_consumer.management.commands.simulate import Command as SimulateCommand
from ocpp_consumer.models import Command, CommandStatus
from ocpp_consumer.simulator import ConfigError, Simulation, SimulationConfig
from stations.models import ChargePoint, MeterValue, Transaction

OCPP_TIMESTAMP_Z = "%Y-%m-%dT%H:%M:%S.%fZ"


def now_z() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def default_answer(charge_point_id: str, action: str, payload: dict, csms: FakeCsms):
    """What a well-behaved CSMS answers; None means: no answer at all."""
    if action == "BootNotification":
        return {"status": "Accepted", "currentTime": now_z(), "interval": 300}
    if action == "Heartbeat":
        return {"currentTime": now_z()}
    if action == "Authorize":
        return {"idTagInfo": {"status": "Accepted"}}
    if action == "StartTransaction":
        csms.next_transaction_id += 1
        return {"transactionId": csms.next_transaction_id, "idTagInfo": {"status": "Accepted"}}
    return {}


class FakeCsms:
    """A scripted Central System on 127.0.0.1 that validates what it receives."""

    def __init__(self, answer=default_answer, refuse=None, ssl=None, delay=0.0):
        self.answer = answer
        self.refuse = refuse  # (charge_point_id, request) -> HTTPStatus | None
        self.ssl = ssl
        self.delay = delay
        self.calls: list[tuple[float, str, str, dict]] = []  # (time, cp id, action, payload)
        self.invalid: list[tuple[str, dict, str]] = []
        self.handshakes: list[tuple[str, str | None]] = []  # (cp id, Authorization header)
        self.connections: dict[str, object] = {}
        self.connects: Counter = Counter()
        self.in_flight: Counter = Counter()
        self.max_in_flight: Counter = Counter()
        self.next_transaction_id = 0
        self._replies: dict[str, asyncio.Future] = {}
        self._server = None

    @property
    def url(self) -> str:
        port = self._server.sockets[0].getsockname()[1]
        return f"{'wss' if self.ssl else 'ws'}://127.0.0.1:{port}/ocpp/"

    async def __aenter__(self):
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            subprotocols=["ocpp1.6"],
            process_request=self._process_request,
            compression=None,
            ssl=self.ssl,
        )
        return self

    async def __aexit__(self, *exc):
        self._server.close()
        await self._server.wait_closed()

    def actions(self, charge_point_id: str | None = None) -> list[str]:
        return [a for _, cp, a, _ in self.calls if charge_point_id in (None, cp)]

    def _process_request(self, connection, request):
        charge_point_id = unquote(request.path.rsplit("/", 1)[-1])
        self.handshakes.append((charge_point_id, request.headers.get("Authorization")))
        status = self.refuse and self.refuse(charge_point_id, request)
        if status:
            return connection.respond(status, "refused\n")
        return None

    async def _handle(self, websocket):
        charge_point_id = unquote(websocket.request.path.rsplit("/", 1)[-1])
        self.connections[charge_point_id] = websocket
        self.connects[charge_point_id] += 1
        with contextlib.suppress(ConnectionClosed):
            async for text in websocket:
                message = json.loads(text)
                if message[0] == 2:
                    asyncio.ensure_future(self._on_call(websocket, charge_point_id, message))
                else:
                    future = self._replies.pop(message[1], None)
                    if future is not None and not future.done():
                        future.set_result(message)

    async def _on_call(self, websocket, charge_point_id, message):
        _, unique_id, action, payload = message
        self.calls.append((time.monotonic(), charge_point_id, action, payload))
        self.in_flight[charge_point_id] += 1
        self.max_in_flight[charge_point_id] = max(
            self.max_in_flight[charge_point_id], self.in_flight[charge_point_id]
        )
        try:
            framing.validate_request(action, payload)
        except errors.OCPPError as exc:
            self.invalid.append((action, payload, str(exc)))
        answer = self.answer(charge_point_id, action, payload, self)
        if self.delay:
            await asyncio.sleep(self.delay)
        self.in_flight[charge_point_id] -= 1
        if answer is not None:
            with contextlib.suppress(Exception):
                await websocket.send(json.dumps([3, unique_id, answer]))

    async def call(self, charge_point_id: str, action: str, payload: dict, timeout=5.0) -> list:
        """Send a CALL to a connected charge point; return its answer frame."""
        unique_id = f"csms-{len(self._replies)}-{time.monotonic_ns()}"
        future = asyncio.get_running_loop().create_future()
        self._replies[unique_id] = future
        self.last_sent_id = unique_id
        await self.connections[charge_point_id].send(json.dumps([2, unique_id, action, payload]))
        return await asyncio.wait_for(future, timeout)


def config_for(url: str, **options) -> SimulationConfig:
    """A fast configuration: no sessions, quick retries, unless the test says otherwise."""
    defaults = dict(
        charge_points=1,
        connectors=1,
        sessions_per_hour=0,
        backoff_base=0.05,
        backoff_cap=0.2,
        call_timeout=2.0,
        stop_timeout=3.0,
        seed=1,
        ramp=100,
    )
    return SimulationConfig(url=url, **{**defaults, **options})


async def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


# --- against the scripted CSMS ------------------------------------------------------


async def test_a_session_sends_valid_frames_in_the_order_a_charger_does():
    async with FakeCsms() as csms:
        config = config_for(
            csms.url,
            duration=2.5,
            sessions_per_hour=36_000,  # a driver every 0.1 s on average
            session_minutes=0.015,  # 0.45 to 1.35 s
            meter_interval=0.2,
            heartbeat_interval=0.5,
        )
        report = await Simulation(config).run()

    assert csms.invalid == []
    assert csms.max_in_flight["SIM-00001"] == 1
    actions = csms.actions("SIM-00001")
    assert actions[:3] == ["BootNotification", "StatusNotification", "StatusNotification"]
    first_statuses = [p for _, _, a, p in csms.calls[1:3]]
    assert [(p["connectorId"], p["status"]) for p in first_statuses] == [
        (0, "Available"),
        (1, "Available"),
    ]
    # One whole session, in order (the first one; heartbeats may come in between).
    flow = [a for a in actions[3:] if a != "Heartbeat"]
    start = flow.index("Authorize")
    stop = flow.index("StopTransaction")
    assert flow[start : start + 4] == [
        "Authorize",
        "StatusNotification",
        "StartTransaction",
        "StatusNotification",
    ]
    assert "MeterValues" in flow[start + 4 : stop]
    assert flow[stop + 1 : stop + 3] == ["StatusNotification", "StatusNotification"]
    statuses = [p["status"] for _, _, a, p in csms.calls if a == "StatusNotification"]
    assert statuses[2:5] == ["Preparing", "Charging", "Finishing"]
    assert "Heartbeat" in actions

    starts = [p for _, _, a, p in csms.calls if a == "StartTransaction"]
    stops = [p for _, _, a, p in csms.calls if a == "StopTransaction"]
    meters = [p for _, _, a, p in csms.calls if a == "MeterValues"]
    assert len(starts) == len(stops) >= 1  # the run's end stopped the last one
    assert [s["transactionId"] for s in stops] == list(range(1, len(starts) + 1))
    assert all(s["reason"] == "Local" for s in stops)
    registers = []
    for start_payload, stop_payload in zip(starts, stops, strict=True):
        assert stop_payload["meterStop"] >= start_payload["meterStart"]
        registers += [start_payload["meterStart"], stop_payload["meterStop"]]
        for stamp in (start_payload["timestamp"], stop_payload["timestamp"]):
            datetime.strptime(stamp, OCPP_TIMESTAMP_Z)  # UTC, ms, "Z"
    assert registers == sorted(registers)  # one connector: its register only grows
    samples = meters[0]["meterValue"][0]["sampledValue"]
    assert [(s["measurand"], s["unit"]) for s in samples] == [
        ("Energy.Active.Import.Register", "Wh"),
        ("Power.Active.Import", "W"),
    ]
    assert 3_700 <= int(samples[1]["value"]) <= 22_000
    assert meters[0]["transactionId"] == starts[0].get("transactionId", 1)

    sent = report["sent"]
    assert sent["StartTransaction"]["answered"] == len(starts)
    assert report["sessions"]["started"] == report["sessions"]["completed"] == len(starts)
    assert report["totals"]["errors"] == 0
    assert report["ended_by"] == "duration"


async def test_an_id_tag_is_in_one_session_at_a_time():
    async with FakeCsms() as csms:
        config = config_for(
            csms.url,
            connectors=2,
            duration=2.5,
            id_tags=("ONLY",),
            sessions_per_hour=36_000,
            session_minutes=0.01,  # 0.3 to 0.9 s
            meter_interval=1,
        )
        report = await Simulation(config).run()

    started = [t for t, _, a, _ in csms.calls if a == "StartTransaction"]
    stopped = [t for t, _, a, _ in csms.calls if a == "StopTransaction"]
    assert len(started) >= 2  # the tag came back after its first session
    assert len(stopped) == len(started)
    # Sessions of the one tag never overlap: each starts after the previous stopped.
    for index in range(1, len(started)):
        assert started[index] > stopped[index - 1]
    assert {p["idTag"] for _, _, a, p in csms.calls if a == "StartTransaction"} == {"ONLY"}
    assert report["sessions"]["no_free_id_tag"] > 0
    assert report["sessions"]["refused"] == 0


async def test_every_csms_command_gets_a_valid_answer_and_takes_effect():
    async with FakeCsms() as csms:
        simulation = Simulation(config_for(csms.url, connectors=2, session_minutes=5))
        run = asyncio.ensure_future(simulation.run())
        await wait_for(lambda: csms.actions().count("StatusNotification") == 3)

        async def ask(action, payload):
            frame = await csms.call("SIM-00001", action, payload)
            if frame[0] == 3:
                framing.validate_result(action, frame[2])
            return frame

        simple = {
            "ChangeAvailability": ({"connectorId": 2, "type": "Operative"}, "Accepted"),
            "ClearCache": ({}, "Accepted"),
            "UnlockConnector": ({"connectorId": 1}, "Unlocked"),
            "SetChargingProfile": (
                {
                    "connectorId": 1,
                    "csChargingProfiles": {
                        "chargingProfileId": 1,
                        "stackLevel": 0,
                        "chargingProfilePurpose": "TxDefaultProfile",
                        "chargingProfileKind": "Absolute",
                        "chargingSchedule": {
                            "chargingRateUnit": "W",
                            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400.0}],
                        },
                    },
                },
                "Accepted",
            ),
            "ClearChargingProfile": ({}, "Accepted"),
            "ReserveNow": (
                {"connectorId": 1, "expiryDate": now_z(), "idTag": "X", "reservationId": 1},
                "Accepted",
            ),
            "CancelReservation": ({"reservationId": 1}, "Accepted"),
            "GetCompositeSchedule": ({"connectorId": 1, "duration": 60}, "Rejected"),
            "DataTransfer": ({"vendorId": "acme"}, "UnknownVendorId"),
            "ChangeConfiguration": ({"key": "HeartbeatInterval", "value": "42"}, "Accepted"),
            "RemoteStopTransaction": ({"transactionId": 999}, "Rejected"),
        }
        for action, (payload, status) in simple.items():
            frame = await ask(action, payload)
            assert frame[0] == 3 and frame[2] == {"status": status}, (action, frame)
        assert (await ask("SendLocalList", {"listVersion": 7, "updateType": "Full"}))[2] == {
            "status": "Accepted"
        }
        assert (await ask("GetLocalListVersion", {}))[2] == {"listVersion": 7}
        assert (await ask("GetDiagnostics", {"location": "ftp://x/"}))[2] == {}
        assert (await ask("UpdateFirmware", {"location": "ftp://x/", "retrieveDate": now_z()}))[
            2
        ] == {}
        configuration = (await ask("GetConfiguration", {"key": ["HeartbeatInterval", "Nope"]}))[2]
        assert configuration == {
            "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "42"}],
            "unknownKey": ["Nope"],
        }
        everything = (await ask("GetConfiguration", {}))[2]["configurationKey"]
        assert {"key": "NumberOfConnectors", "readonly": True, "value": "2"} in everything
        assert {k["key"] for k in everything} >= {"MeterValueSampleInterval", "HeartbeatInterval"}

        # Errors: unknown action, known but not simulated, a payload the schema refuses.
        assert (await ask("Teleport", {}))[:3] == [4, csms.last_sent_id, "NotImplemented"]
        assert (await ask("GetLog", {"logType": "DiagnosticsLog", "requestId": 1, "log": {}}))[
            2
        ] == "NotSupported"
        assert (await ask("Reset", {"type": "Sideways"}))[2] == "TypeConstraintViolation"
        assert (await ask("Reset", {}))[2] == "OccurenceConstraintViolation"

        # TriggerMessage: answered first, then the asked message is sent.
        before = len(csms.calls)
        frame = await ask("TriggerMessage", {"requestedMessage": "MeterValues", "connectorId": 2})
        assert frame[2] == {"status": "Accepted"}
        await wait_for(lambda: "MeterValues" in [a for _, _, a, _ in csms.calls[before:]])
        meter = [p for _, _, a, p in csms.calls[before:] if a == "MeterValues"][0]
        assert meter["connectorId"] == 2
        assert meter["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"
        frame = await ask("TriggerMessage", {"requestedMessage": "Heartbeat", "connectorId": 9})
        assert frame[2] == {"status": "Rejected"}

        # RemoteStart starts a session on the asked connector (no Authorize), RemoteStop ends it.
        frame = await ask("RemoteStartTransaction", {"idTag": "REMOTE-1", "connectorId": 2})
        assert frame[2] == {"status": "Accepted"}
        await wait_for(lambda: "StartTransaction" in csms.actions())
        start = [p for _, _, a, p in csms.calls if a == "StartTransaction"][0]
        assert (start["connectorId"], start["idTag"]) == (2, "REMOTE-1")
        assert "Authorize" not in csms.actions()
        await wait_for(lambda: simulation.charge_points[0].connectors[1].transaction_id == 1)
        busy = await ask("RemoteStartTransaction", {"idTag": "REMOTE-2", "connectorId": 2})
        assert busy[2] == {"status": "Rejected"}
        assert (await ask("RemoteStopTransaction", {"transactionId": 1}))[2] == {
            "status": "Accepted"
        }
        await wait_for(lambda: "StopTransaction" in csms.actions())
        stop = [p for _, _, a, p in csms.calls if a == "StopTransaction"][0]
        assert (stop["transactionId"], stop["reason"]) == (1, "Remote")

        # Reset: accepted, then the charger reconnects and boots again.
        assert (await ask("Reset", {"type": "Soft"}))[2] == {"status": "Accepted"}
        await wait_for(lambda: csms.connects["SIM-00001"] == 2)
        await wait_for(lambda: csms.actions().count("BootNotification") == 2)
        simulation.request_stop()
        report = await run

    assert csms.invalid == []
    assert report["connections"]["reboots"] == 1
    assert report["connections"]["reconnects"] == 1
    assert report["connections"]["dropped"] == 0
    assert report["sessions"]["remote_started"] == report["sessions"]["remote_stopped"] == 1
    received = report["received"]
    assert received["Teleport"] == {"NotImplemented": 1}
    assert received["GetLog"] == {"NotSupported": 1}
    assert received["Reset"] == {
        "OccurenceConstraintViolation": 1,
        "TypeConstraintViolation": 1,
        "answered": 1,
    }
    assert received["GetConfiguration"] == {"answered": 2}


async def test_a_pending_boot_waits_the_interval_then_boots_again():
    boots = []

    def answer(charge_point_id, action, payload, csms):
        if action == "BootNotification":
            boots.append(time.monotonic())
            status = "Pending" if len(boots) == 1 else "Accepted"
            return {"status": status, "currentTime": now_z(), "interval": 1}
        return default_answer(charge_point_id, action, payload, csms)

    async with FakeCsms(answer=answer) as csms:
        simulation = Simulation(config_for(csms.url))
        run = asyncio.ensure_future(simulation.run())
        await wait_for(lambda: csms.actions().count("StatusNotification") == 2)
        simulation.request_stop()
        report = await run

    assert csms.actions()[:3] == ["BootNotification", "BootNotification", "StatusNotification"]
    assert 0.9 <= boots[1] - boots[0] <= 2.0
    assert report["boots_not_accepted"] == {"Pending": 1}
    assert report["sent"]["BootNotification"]["answered"] == 2
    # The Accepted boot's interval (1 s) became the heartbeat interval.
    assert simulation.charge_points[0].heartbeat_interval == 1.0


async def test_a_triggered_boot_accepts_a_pending_charge_point_at_once():
    def answer(charge_point_id, action, payload, csms):
        if action == "BootNotification":
            status = "Accepted" if csms.accept_boots else "Pending"
            return {"status": status, "currentTime": now_z(), "interval": 60}
        return default_answer(charge_point_id, action, payload, csms)

    async with FakeCsms(answer=answer) as csms:
        csms.accept_boots = False
        simulation = Simulation(config_for(csms.url))
        run = asyncio.ensure_future(simulation.run())
        await wait_for(lambda: "BootNotification" in csms.actions())
        csms.accept_boots = True
        triggered = await csms.call(
            "SIM-00001", "TriggerMessage", {"requestedMessage": "BootNotification"}
        )
        await wait_for(lambda: "StatusNotification" in csms.actions(), timeout=3)
        simulation.request_stop()
        report = await run

    assert triggered[2] == {"status": "Accepted"}
    assert csms.actions()[:3] == ["BootNotification", "BootNotification", "StatusNotification"]
    assert report["boots_not_accepted"] == {"Pending": 1}


async def test_one_call_in_flight_and_timeouts_are_errors():
    def answer(charge_point_id, action, payload, csms):
        if action == "Heartbeat":
            return None  # never answered
        return default_answer(charge_point_id, action, payload, csms)

    async with FakeCsms(answer=answer, delay=0.05) as csms:
        config = config_for(
            csms.url,
            duration=1.6,
            heartbeat_interval=0.1,
            call_timeout=0.4,
            sessions_per_hour=36_000,
            session_minutes=0.01,
            meter_interval=0.1,
        )
        report = await Simulation(config).run()

    assert csms.max_in_flight["SIM-00001"] == 1
    heartbeat_times = [t for t, _, a, _ in csms.calls if a == "Heartbeat"]
    assert heartbeat_times
    # Nothing else is sent while a Heartbeat waits for its (missing) answer.
    for sent_at in heartbeat_times:
        following = [t for t, _, _, _ in csms.calls if t > sent_at]
        assert not following or following[0] - sent_at >= 0.35
    heartbeat = report["sent"]["Heartbeat"]
    assert heartbeat["timeouts"] >= 1 and heartbeat["answered"] == 0
    assert report["totals"]["errors"] >= heartbeat["timeouts"]


async def test_refused_handshakes_are_counted_by_status_and_retried_with_basic_auth():
    refusals = iter([HTTPStatus.UNAUTHORIZED, HTTPStatus.UNAUTHORIZED, HTTPStatus.NOT_FOUND])

    async with FakeCsms(refuse=lambda cp, request: next(refusals, None)) as csms:
        simulation = Simulation(config_for(csms.url, password="s3cret-key-of-16+"))
        run = asyncio.ensure_future(simulation.run())
        await wait_for(lambda: "StatusNotification" in csms.actions())
        simulation.request_stop()
        report = await run

    assert report["connections"]["failed_handshakes"] == {"HTTP 401": 2, "HTTP 404": 1}
    assert report["connections"]["handshakes_ok"] == 1
    assert report["connections"]["connected_at_end"] == 1
    expected = "Basic " + base64.b64encode(b"SIM-00001:s3cret-key-of-16+").decode()
    assert [header for _, header in csms.handshakes] == [expected] * 4
    assert report["totals"]["errors"] == 3


async def test_a_dropped_connection_is_counted_and_reconnected():
    async with FakeCsms() as csms:
        simulation = Simulation(config_for(csms.url))
        run = asyncio.ensure_future(simulation.run())
        await wait_for(lambda: "StatusNotification" in csms.actions())
        await csms.connections["SIM-00001"].close()
        await wait_for(lambda: csms.actions().count("BootNotification") == 2)
        await wait_for(lambda: simulation.stats.connected == 1)
        simulation.request_stop()
        report = await run

    assert csms.connects["SIM-00001"] == 2
    connections = report["connections"]
    assert (connections["dropped"], connections["reconnects"], connections["reboots"]) == (1, 1, 0)


async def test_rate_sends_heartbeats_to_reach_the_target():
    async with FakeCsms() as csms:
        config = config_for(csms.url, charge_points=4, duration=3, rate=100)
        report = await Simulation(config).run()

    # Boots and statuses count against the rate; heartbeats fill the rest.
    assert 230 <= report["totals"]["sent"] <= 330
    heartbeats = Counter(cp for _, cp, a, _ in csms.calls if a == "Heartbeat")
    assert len(heartbeats) == 4 and min(heartbeats.values()) >= 40  # spread over the fleet


async def test_wss_needs_insecure_for_an_untrusted_certificate():
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    async with FakeCsms(ssl=server_context) as csms:
        assert csms.url.startswith("wss://")
        checked = Simulation(config_for(csms.url))
        run = asyncio.ensure_future(checked.run())
        await wait_for(lambda: sum(checked.stats.handshake_failures.values()) >= 2)
        checked.request_stop()
        refused = await run
        insecure = Simulation(config_for(csms.url, insecure=True))
        run = asyncio.ensure_future(insecure.run())
        await wait_for(lambda: "StatusNotification" in csms.actions())
        insecure.request_stop()
        accepted = await run

    assert set(refused["connections"]["failed_handshakes"]) == {"TLS certificate not trusted"}
    assert refused["connections"]["handshakes_ok"] == 0
    assert accepted["connections"]["handshakes_ok"] == 1
    assert accepted["connections"]["failed_handshakes"] == {}


# --- the management command -----------------------------------------------------------


@contextlib.contextmanager
def csms_in_thread(**options):
    """A FakeCsms on its own event loop, for code that runs asyncio.run() itself."""
    loop = asyncio.new_event_loop()
    csms = FakeCsms(**options)
    started = threading.Event()

    def serve_forever():
        loop.run_until_complete(csms.__aenter__())
        started.set()
        loop.run_forever()
        loop.run_until_complete(csms.__aexit__())
        loop.close()

    thread = threading.Thread(target=serve_forever, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield csms
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def test_the_command_needs_no_database_and_prints_progress_and_report(tmp_path):
    # No django_db mark: pytest-django fails the test on any query.
    assert SimulateCommand.requires_system_checks == []
    path = tmp_path / "report.json"
    out, err = io.StringIO(), io.StringIO()
    with csms_in_thread() as csms:
        call_command(
            "simulate",
            *("--url", csms.url, "--charge-points", "2", "--connectors", "1"),
            *("--duration", "1.6", "--heartbeat-interval", "0.3", "--sessions-per-hour", "0"),
            *("--id-prefix", "CP 7/", "--id-start", "41", "--json", str(path)),
            stdout=out,
            stderr=err,
        )
    report = json.loads(path.read_text())
    assert report["connections"]["handshakes_ok"] == report["connections"]["connected_at_end"] == 2
    assert report["sent"]["BootNotification"]["answered"] == 2
    assert report["sent"]["Heartbeat"]["answered"] >= 4
    assert report["totals"]["errors"] == 0
    assert report["ended_by"] == "duration"
    # Ids are numbered from --id-start and percent-encoded in the URL, decoded by the server.
    assert set(csms.connects) == {"CP 7/00041", "CP 7/00042"}
    text = out.getvalue()
    assert "BootNotification" in text and "Heartbeat" in text and "Overall:" in text
    progress = [line for line in err.getvalue().splitlines() if "connected" in line]
    assert progress and "connected 2/2" in progress[-1]


BAD_OPTIONS = [
    (["--charge-points", "0"], "--charge-points must be at least 1"),
    (["--url", "http://127.0.0.1/ocpp/"], "--url must be a ws:// or wss:// URL"),
    (["--url", "ws://127.0.0.1/ocpp/?token=1"], "--url must not carry a query"),
    (["--connectors", "0"], "--connectors must be between 1 and 100"),
    (["--duration", "-1"], "--duration must be at least 0"),
    (["--ramp", "0"], "--ramp must be greater than 0"),
    (["--meter-interval", "0"], "--meter-interval must be greater than 0"),
    (["--session-minutes", "-5"], "--session-minutes must be greater than 0"),
    (["--sessions-per-hour", "-1"], "--sessions-per-hour must be at least 0"),
    (
        ["--rate", "100", "--heartbeat-interval", "30"],
        "--rate and --heartbeat-interval exclude each other",
    ),
    (["--rate", "0"], "--rate must be greater than 0"),
    (["--id-tag", "A" * 21], "an idTag has 1 to 20 characters"),
    (["--id-tag", "TAG,,OTHER"], "an idTag has 1 to 20 characters"),
    (
        ["--id-tag", "SIXTEEN-CHARS-ID", "--id-tag-count", "100000"],
        "an idTag has 1 to 20 characters",
    ),
    (["--password", "", "--charge-points", "1"], "--password must not be empty"),
    (["--password", "secret-secret-16", "--id-prefix", "A:"], "must not contain ':'"),
    (["--id-prefix", "X" * 60], "--id-prefix is too long"),
    (
        ["--backoff-base", "10", "--backoff-cap", "1"],
        "--backoff-cap must not be below --backoff-base",
    ),
    (
        ["--json", "/nonexistent-folder/report.json"],
        "--json: cannot write into /nonexistent-folder",
    ),
]


@pytest.mark.parametrize(("args", "message"), BAD_OPTIONS)
def test_bad_options_are_refused_with_a_clear_message(args, message):
    # A short duration: were an option let through, the test fails instead of hanging.
    base = ("--url", "ws://127.0.0.1:9/ocpp/", "--duration", "0.5", "--quiet")
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("simulate", *base, *args, stdout=io.StringIO())


def test_bad_options_exit_non_zero_from_the_shell():
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "simulate",
            "--url",
            "ws://127.0.0.1:9/",
            "--charge-points",
            "0",
        ],
        cwd=testing.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "--charge-points must be at least 1" in result.stderr
    assert result.stdout == ""


def test_config_validation_is_the_library_s_too():
    with pytest.raises(ConfigError, match="--charge-points"):
        Simulation(SimulationConfig(url="ws://127.0.0.1:9/", charge_points=-3))
    config = SimulationConfig(url="ws://h:1/ocpp", id_tags=("T",), id_tag_count=3)
    assert config.url_for("CP 1") == "ws://h:1/ocpp/CP%201"
    assert config.all_id_tags() == ["T0001", "T0002", "T0003"]


def test_ctrl_c_ends_the_run_cleanly_and_a_second_one_skips_the_session_wait(tmp_path):
    """First SIGINT: stop sessions (here StopTransaction is never answered); second: go."""

    def answer(charge_point_id, action, payload, csms):
        if action == "StopTransaction":
            return None
        return default_answer(charge_point_id, action, payload, csms)

    path = tmp_path / "report.json"
    with csms_in_thread(answer=answer) as csms:
        process = subprocess.Popen(
            [
                *(sys.executable, "manage.py", "simulate", "--url", csms.url, "--quiet"),
                *("--charge-points", "2", "--connectors", "1", "--sessions-per-hour", "36000"),
                *("--session-minutes", "60", "--call-timeout", "60", "--stop-timeout", "60"),
                *("--id-tag", "TAG-A,TAG-B", "--json", str(path)),
            ],
            cwd=testing.BASE_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_until(lambda: csms.actions().count("StartTransaction") == 2, timeout=30)
            process.send_signal(signal.SIGINT)
            wait_until(lambda: csms.actions().count("StopTransaction") == 2)
            time.sleep(0.3)
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert process.returncode == 0, err
    assert "ended: interrupted" in out
    assert "Note: 2 session(s) still open when the run ended" in out
    assert "connected" not in err  # --quiet: no progress line
    report = json.loads(path.read_text())
    assert report["ended_by"] == "interrupted"
    assert report["sent"]["StopTransaction"]["sent"] == 2
    assert report["sessions"]["started"] == 2 and report["sessions"]["completed"] == 0


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.05)


# --- against the project's own Daphne ----------------------------------------------------


@pytest.fixture
def daphne(tmp_path):
    """Daphne on 127.0.0.1 with auto-registration, sharing the test database.

    Its Celery broker is in memory (the invoice tasks of the sessions go
    nowhere) and, on Redis, its channel layer has its own prefix, deleted after.
    """
    prefix = f"sim-test-{uuid.uuid4().hex[:12]}"
    env = testing.process_env(
        OCPP_AUTO_REGISTER="1", CELERY_BROKER_URL="memory://", CHANNEL_LAYER_PREFIX=prefix
    )
    try:
        with testing.daphne_node(env, tmp_path) as base_url:
            yield base_url.replace("http://", "ws://") + "/ocpp/", base_url
    finally:
        if os.environ.get("REDIS_URL"):
            import redis

            client = redis.Redis.from_url(os.environ["REDIS_URL"])
            keys = list(client.scan_iter(match=f"{prefix}*"))
            if keys:
                client.delete(*keys)
            client.close()


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_fleet_against_daphne_fills_the_database(daphne, tmp_path):
    ws_url, _ = daphne
    IdTag.objects.bulk_create([IdTag(id_tag=f"SIMTAG{n:04d}") for n in range(1, 13)])
    path = tmp_path / "report.json"
    call_command(
        "simulate",
        *("--url", ws_url, "--charge-points", "3", "--duration", "4", "--seed", "5"),
        *("--sessions-per-hour", "7200", "--session-minutes", "0.02", "--meter-interval", "0.3"),
        *("--heartbeat-interval", "1", "--id-tag-count", "12", "--quiet", "--json", str(path)),
        stdout=io.StringIO(),
    )
    report = json.loads(path.read_text())

    sent = report["sent"]
    assert sent["BootNotification"]["sent"] == sent["BootNotification"]["answered"] == 3
    for action in ("StartTransaction", "StopTransaction", "MeterValues", "Heartbeat"):
        assert sent[action]["answered"] > 0, action
        assert sent[action]["latency_ms"]["p99"] > 0
    assert report["totals"]["errors"] == 0
    assert report["totals"]["sent"] == report["totals"]["answered"]
    assert report["connections"]["handshakes_ok"] == report["connections"]["connected_at_end"] == 3
    sessions = report["sessions"]
    assert sessions["started"] == sessions["completed"] == sent["StartTransaction"]["answered"]
    assert sessions["refused"] == 0

    charge_points = ChargePoint.objects.filter(charge_point_id__startswith="SIM-")
    assert sorted(charge_points.values_list("charge_point_id", flat=True)) == [
        "SIM-00001",
        "SIM-00002",
        "SIM-00003",
    ]
    assert {(cp.vendor, cp.model) for cp in charge_points} == {("CSMS-Simulator", "Simulated AC")}
    transactions = Transaction.objects.filter(charge_point__in=charge_points)
    assert transactions.count() == sessions["started"]
    assert not transactions.filter(stop_timestamp__isnull=True).exists()  # all closed
    assert {t.stop_reason for t in transactions} == {"Local"}
    assert all(t.meter_stop >= t.meter_start for t in transactions)
    registers = MeterValue.objects.filter(
        transaction__in=transactions, measurand="Energy.Active.Import.Register"
    )
    assert registers.count() == sent["MeterValues"]["answered"]
    assert MeterValue.objects.filter(
        transaction__in=transactions, measurand="Power.Active.Import"
    ).exists()


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_commands_sent_through_the_csms_api_are_answered(daphne):
    ws_url, base_url = daphne
    IdTag.objects.create(id_tag="SIMTAG")
    operator = User.objects.create_user("ops", password="x" * 20, is_staff=True, is_superuser=True)
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=operator).key

    def post(action: str, body: dict) -> tuple[int, dict]:
        request = urllib.request.Request(
            f"{base_url}/api/v1/charge-points/SIM-00001/commands/{action}/",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())

    async def scenario():
        config = SimulationConfig(
            url=ws_url, connectors=2, sessions_per_hour=0, session_minutes=10, meter_interval=0.3
        )
        simulation = Simulation(config)
        run = asyncio.ensure_future(simulation.run())
        await wait_for(
            lambda: simulation.stats.actions["StatusNotification"].answered == 3, timeout=20
        )
        answers = {"configuration": await asyncio.to_thread(post, "get-configuration", {})}
        answers["start"] = await asyncio.to_thread(
            post, "remote-start-transaction", {"id_tag": "SIMTAG", "connector_id": 2}
        )
        connector = simulation.charge_points[0].connectors[1]
        await wait_for(lambda: simulation.stats.actions["MeterValues"].answered >= 1, timeout=10)
        answers["stop"] = await asyncio.to_thread(
            post, "remote-stop-transaction", {"transaction_id": connector.transaction_id}
        )
        await wait_for(lambda: not connector.busy, timeout=10)
        simulation.request_stop()
        return answers, await run

    answers, report = asyncio.run(scenario())

    status, body = answers["configuration"]
    assert status == 200
    keys = {item["key"]: item for item in body["response"]["configuration_key"]}
    assert keys["HeartbeatInterval"] == {
        "key": "HeartbeatInterval",
        "readonly": False,
        "value": "300",
    }
    assert keys["NumberOfConnectors"]["value"] == "2"
    assert answers["start"] == (200, {"status": "Accepted", "response": {"status": "Accepted"}})
    assert answers["stop"] == (200, {"status": "Accepted", "response": {"status": "Accepted"}})

    assert report["received"] == {
        "GetConfiguration": {"answered": 1},
        "RemoteStartTransaction": {"answered": 1},
        "RemoteStopTransaction": {"answered": 1},
    }
    assert report["sessions"]["remote_started"] == report["sessions"]["remote_stopped"] == 1
    assert report["totals"]["errors"] == 0
    session = Transaction.objects.get(charge_point__charge_point_id="SIM-00001")
    assert (session.connector.connector_id, session.id_tag, session.stop_reason) == (
        2,
        "SIMTAG",
        "Remote",
    )
    assert session.meter_stop >= session.meter_start
    assert MeterValue.objects.filter(transaction=session).exists()
    assert list(Command.objects.order_by("id").values_list("action", "status")) == [
        ("GetConfiguration", CommandStatus.ANSWERED),
        ("RemoteStartTransaction", CommandStatus.ANSWERED),
        ("RemoteStopTransaction", CommandStatus.ANSWERED),
    ]

"""The simulator library against a scripted CSMS that checks every frame against
the official OCPP 1.6 schemas and plays what a real CSMS rarely does on cue
(Pending, refusals, silence, dropped sockets)."""

from __future__ import annotations

import asyncio
import base64
import ssl
import time
from collections import Counter
from datetime import datetime
from http import HTTPStatus

import trustme
from ocpp.messages import MessageType

from simulator import Simulation

from .fakes import (
    OCPP_TIMESTAMP_Z,
    FakeCsms,
    config_for,
    default_answer,
    now_z,
    schema_violation,
    wait_for,
)

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
                assert schema_violation(MessageType.CallResult, action, frame[2]) is None
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

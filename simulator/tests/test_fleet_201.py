"""OCPP 2.0.1 charge points, and fleets mixing 1.6 and 2.0.1, against the scripted CSMS,
which checks every frame against the official schemas of the version the socket speaks."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from ocpp.messages import MessageType

from simulator import ConfigError, Simulation, SimulationConfig, format_report

from .fakes import FakeCsms, config_for, default_answer, schema_violation, wait_for


def events(csms: FakeCsms, charge_point_id: str = "SIM-00001") -> list[dict]:
    return [p for _, cp, a, p in csms.calls if a == "TransactionEvent" and cp == charge_point_id]


def registers(event: dict) -> list[float]:
    return [
        sample["value"]
        for meter in event.get("meterValue", [])
        for sample in meter["sampledValue"]
        if sample["measurand"] == "Energy.Active.Import.Register"
    ]


async def test_a_201_session_is_told_as_transaction_events_valid_against_the_schemas():
    async with FakeCsms() as csms:
        config = config_for(
            csms.url,
            ocpp_version="2.0.1",
            duration=2.5,
            sessions_per_hour=36_000,
            session_minutes=0.015,
            meter_interval=0.2,
            heartbeat_interval=0.5,
        )
        report = await Simulation(config).run()

    assert csms.invalid == []
    assert csms.versions == {"SIM-00001": "2.0.1"}
    assert csms.max_in_flight["SIM-00001"] == 1
    boot = csms.calls[0][3]
    assert boot["reason"] == "PowerUp"
    assert boot["chargingStation"]["vendorName"] == "CSMS-Simulator"
    actions = csms.actions()
    # No station-wide status in 2.0.1: the one EVSE's connector only.
    assert actions[:2] == ["BootNotification", "StatusNotification"]
    assert csms.calls[1][3]["evseId"] == 1 and csms.calls[1][3]["connectorId"] == 1
    assert csms.calls[1][3]["connectorStatus"] == "Available"
    flow = [a for a in actions[2:] if a != "Heartbeat"]
    start = flow.index("Authorize")
    assert flow[start : start + 4] == [
        "Authorize",
        "StatusNotification",
        "TransactionEvent",
        "TransactionEvent",
    ]
    authorize = next(p for _, _, a, p in csms.calls if a == "Authorize")
    assert authorize["idToken"] == {"idToken": "SIMTAG", "type": "ISO14443"}

    by_transaction: dict[str, list[dict]] = {}
    for event in events(csms):
        by_transaction.setdefault(event["transactionInfo"]["transactionId"], []).append(event)
    assert len(by_transaction) == report["sessions"]["started"] >= 1
    for transaction_id, told in by_transaction.items():
        assert str(uuid.UUID(transaction_id)) == transaction_id
        assert [e["seqNo"] for e in told] == list(range(len(told)))
        kinds = [(e["eventType"], e["triggerReason"]) for e in told]
        assert kinds[0] == ("Started", "Authorized")
        assert kinds[1] == ("Updated", "ChargingStateChanged")
        assert set(kinds[2:-1]) <= {("Updated", "MeterValuePeriodic")}
        assert kinds[-1] == ("Ended", "StopAuthorized")
        started, ended = told[0], told[-1]
        assert started["idToken"] == ended["idToken"] == authorize["idToken"]
        assert started["transactionInfo"]["chargingState"] == "EVConnected"
        assert told[1]["transactionInfo"]["chargingState"] == "Charging"
        assert ended["transactionInfo"]["stoppedReason"] == "Local"
        assert all(e["evse"] == {"id": 1, "connectorId": 1} for e in told)
        readings = [value for event in told for value in registers(event)]
        assert readings == sorted(readings)  # the register never falls
        contexts = [
            s["context"] for e in told for m in e.get("meterValue", []) for s in m["sampledValue"]
        ]
        assert contexts[0] == "Transaction.Begin" and contexts[-1] == "Transaction.End"
    assert any(registers(e) and e["triggerReason"] == "MeterValuePeriodic" for e in events(csms))
    statuses = [p["connectorStatus"] for _, _, a, p in csms.calls if a == "StatusNotification"]
    assert statuses[:3] == ["Available", "Occupied", "Available"]

    sessions = report["sessions"]
    assert sessions["started"] == sessions["completed"]
    assert sessions["refused"] == sessions["failed"] == 0
    assert report["totals"]["errors"] == 0
    assert list(report["versions"]) == ["2.0.1"]
    assert report["versions"]["2.0.1"]["sessions"] == sessions
    assert format_report(report).startswith("OCPP 2.0.1 simulation: 1 charge points")


async def test_a_start_the_csms_refuses_ends_at_once_as_deauthorized():
    def answer(charge_point_id, action, payload, csms):
        if action == "TransactionEvent" and payload["eventType"] == "Started":
            return {"idTokenInfo": {"status": "Blocked"}}
        return default_answer(charge_point_id, action, payload, csms)

    async with FakeCsms(answer=answer) as csms:
        simulation = Simulation(
            config_for(csms.url, ocpp_version="2.0.1", sessions_per_hour=36_000)
        )
        run = asyncio.ensure_future(simulation.run())
        await wait_for(lambda: any(e["eventType"] == "Ended" for e in events(csms)))
        simulation.request_stop()
        report = await run

    started, ended = events(csms)[:2]
    assert started["eventType"] == "Started"
    assert (ended["eventType"], ended["triggerReason"]) == ("Ended", "Deauthorized")
    assert ended["transactionInfo"]["stoppedReason"] == "DeAuthorized"
    assert report["sessions"]["started"] == 0
    assert report["sessions_refused"] == {"TransactionEvent: Blocked": 1}
    assert csms.invalid == []


async def test_every_201_command_gets_a_valid_answer_and_takes_effect():
    async with FakeCsms() as csms:
        simulation = Simulation(
            config_for(csms.url, ocpp_version="2.0.1", connectors=2, session_minutes=5)
        )
        run = asyncio.ensure_future(simulation.run())
        await wait_for(lambda: csms.actions().count("StatusNotification") == 2)
        charge_point = simulation.charge_points[0]

        async def ask(action, payload):
            frame = await csms.call("SIM-00001", action, payload)
            if frame[0] == 3:
                violation = schema_violation(MessageType.CallResult, action, frame[2], "2.0.1")
                assert violation is None, (action, frame, violation)
            return frame

        def sent_since(before: int, action: str) -> list[dict]:
            return [p for _, _, a, p in csms.calls[before:] if a == action]

        assert (await ask("ClearCache", {}))[2] == {"status": "Accepted"}
        assert (await ask("DataTransfer", {"vendorId": "acme"}))[2] == {"status": "UnknownVendorId"}
        assert (await ask("UnlockConnector", {"evseId": 1, "connectorId": 1}))[2] == {
            "status": "Unlocked"
        }
        assert (await ask("UnlockConnector", {"evseId": 7, "connectorId": 1}))[2] == {
            "status": "UnknownConnector"
        }

        # The device model: read, write, unknown, write-only.
        heartbeat = {
            "component": {"name": "OCPPCommCtrlr"},
            "variable": {"name": "HeartbeatInterval"},
        }
        password = {
            "component": {"name": "SecurityCtrlr"},
            "variable": {"name": "BasicAuthPassword"},
        }
        set_answer = await ask(
            "SetVariables",
            {
                "setVariableData": [
                    {**heartbeat, "attributeValue": "42"},
                    {**password, "attributeValue": "a-new-password-of-20"},
                    {
                        "component": {"name": "AuthCtrlr"},
                        "variable": {"name": "AuthorizeRemoteStart"},
                        "attributeValue": "true",
                    },
                    {**heartbeat, "attributeValue": "-5"},
                ]
            },
        )
        assert [r["attributeStatus"] for r in set_answer[2]["setVariableResult"]] == [
            "Accepted",
            "Accepted",
            "Rejected",  # read-only
            "Rejected",  # not a positive integer
        ]
        assert charge_point.heartbeat_interval == 42.0
        assert charge_point.password == "a-new-password-of-20"
        get_answer = await ask(
            "GetVariables",
            {
                "getVariableData": [
                    heartbeat,
                    password,
                    {"component": {"name": "Nope"}, "variable": {"name": "X"}},
                    {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "Nope"}},
                    {**heartbeat, "attributeType": "Target"},
                ]
            },
        )
        results = get_answer[2]["getVariableResult"]
        assert [r["attributeStatus"] for r in results] == [
            "Accepted",
            "Rejected",
            "UnknownComponent",
            "UnknownVariable",
            "NotSupportedAttributeType",
        ]
        assert results[0]["attributeValue"] == "42"
        assert "attributeValue" not in results[1]

        before = len(csms.calls)
        assert (await ask("GetBaseReport", {"requestId": 5, "reportBase": "FullInventory"}))[2] == {
            "status": "Accepted"
        }
        await wait_for(lambda: sent_since(before, "NotifyReport"))
        report_sent = sent_since(before, "NotifyReport")[0]
        assert (report_sent["requestId"], report_sent["seqNo"], report_sent["tbc"]) == (5, 0, False)
        reported = {
            (d["component"]["name"], d["variable"]["name"]): d["variableAttribute"][0]
            for d in report_sent["reportData"]
        }
        assert reported[("OCPPCommCtrlr", "HeartbeatInterval")]["value"] == "42"
        assert "value" not in reported[("SecurityCtrlr", "BasicAuthPassword")]

        # ChangeAvailability of one EVSE: its status follows.
        before = len(csms.calls)
        frame = await ask(
            "ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 2}}
        )
        assert frame[2] == {"status": "Accepted"}
        await wait_for(lambda: sent_since(before, "StatusNotification"))
        status = sent_since(before, "StatusNotification")[0]
        assert (status["evseId"], status["connectorStatus"]) == (2, "Unavailable")
        assert not charge_point.connectors[1].operative
        frame = await ask(
            "ChangeAvailability", {"operationalStatus": "Operative", "evse": {"id": 9}}
        )
        assert frame[2] == {"status": "Rejected"}
        await ask("ChangeAvailability", {"operationalStatus": "Operative"})

        # TriggerMessage: answered, then the message is sent.
        before = len(csms.calls)
        frame = await ask("TriggerMessage", {"requestedMessage": "MeterValues", "evse": {"id": 2}})
        assert frame[2] == {"status": "Accepted"}
        await wait_for(lambda: sent_since(before, "MeterValues"))
        meter = sent_since(before, "MeterValues")[0]
        assert meter["evseId"] == 2
        assert meter["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"
        frame = await ask("TriggerMessage", {"requestedMessage": "TransactionEvent"})
        assert frame[2] == {"status": "Rejected"}  # no transaction runs
        frame = await ask("TriggerMessage", {"requestedMessage": "SignV2GCertificate"})
        assert frame[2] == {"status": "NotImplemented"}
        before = len(csms.calls)
        frame = await ask("TriggerMessage", {"requestedMessage": "BootNotification"})
        await wait_for(lambda: sent_since(before, "BootNotification"))
        assert sent_since(before, "BootNotification")[0]["reason"] == "Triggered"

        # RequestStartTransaction: a session without Authorize; RequestStopTransaction ends it.
        frame = await ask(
            "RequestStartTransaction",
            {
                "idToken": {"idToken": "REMOTE-1", "type": "Central"},
                "remoteStartId": 77,
                "evseId": 2,
            },
        )
        assert frame[2] == {"status": "Accepted"}
        await wait_for(lambda: len(events(csms)) >= 2)
        started = events(csms)[0]
        assert (started["eventType"], started["triggerReason"]) == ("Started", "RemoteStart")
        assert started["transactionInfo"]["remoteStartId"] == 77
        assert started["idToken"] == {"idToken": "REMOTE-1", "type": "Central"}
        assert started["evse"] == {"id": 2, "connectorId": 1}
        assert "Authorize" not in csms.actions()
        transaction_id = started["transactionInfo"]["transactionId"]
        busy = await ask(
            "RequestStartTransaction",
            {
                "idToken": {"idToken": "REMOTE-2", "type": "Central"},
                "remoteStartId": 78,
                "evseId": 2,
            },
        )
        assert busy[2] == {"status": "Rejected"}
        assert (await ask("UnlockConnector", {"evseId": 2, "connectorId": 1}))[2] == {
            "status": "OngoingAuthorizedTransaction"
        }
        assert (await ask("GetTransactionStatus", {"transactionId": transaction_id}))[2] == {
            "messagesInQueue": False,
            "ongoingIndicator": True,
        }
        before = len(csms.calls)
        frame = await ask(
            "TriggerMessage", {"requestedMessage": "TransactionEvent", "evse": {"id": 2}}
        )
        assert frame[2] == {"status": "Accepted"}
        await wait_for(
            lambda: any(
                e["triggerReason"] == "Trigger" for e in sent_since(before, "TransactionEvent")
            )
        )
        assert (await ask("RequestStopTransaction", {"transactionId": "not-running"}))[2] == {
            "status": "Rejected"
        }
        assert (await ask("RequestStopTransaction", {"transactionId": transaction_id}))[2] == {
            "status": "Accepted"
        }
        await wait_for(lambda: events(csms)[-1]["eventType"] == "Ended")
        ended = events(csms)[-1]
        assert (ended["triggerReason"], ended["transactionInfo"]["stoppedReason"]) == (
            "RemoteStop",
            "Remote",
        )
        assert [e["seqNo"] for e in events(csms)] == list(range(len(events(csms))))

        # Errors, spelled the 2.0.1 way: unknown action, not simulated, schema refusals.
        assert (await ask("Teleport", {}))[2] == "NotImplemented"
        assert (
            await ask(
                "GetLog",
                {
                    "logType": "DiagnosticsLog",
                    "requestId": 1,
                    "log": {"remoteLocation": "ftp://x/"},
                },
            )
        )[2] == "NotSupported"
        assert (await ask("Reset", {"type": "Sideways"}))[2] == "TypeConstraintViolation"
        assert (await ask("Reset", {}))[2] == "OccurrenceConstraintViolation"

        # Reset: accepted, the charge point reconnects and boots with reason RemoteReset.
        before = len(csms.calls)
        assert (await ask("Reset", {"type": "Immediate"}))[2] == {"status": "Accepted"}
        await wait_for(lambda: csms.connects["SIM-00001"] == 2)
        await wait_for(lambda: sent_since(before, "BootNotification"))
        assert sent_since(before, "BootNotification")[0]["reason"] == "RemoteReset"
        simulation.request_stop()
        report = await run

    assert csms.invalid == []
    assert report["connections"]["reboots"] == 1
    assert report["sessions"]["remote_started"] == report["sessions"]["remote_stopped"] == 1
    assert report["received"]["Reset"] == {
        "OccurrenceConstraintViolation": 1,
        "TypeConstraintViolation": 1,
        "answered": 1,
    }
    assert report["received"]["GetLog"] == {"NotSupported": 1}


async def test_a_mixed_fleet_alternates_versions_and_reports_each():
    async with FakeCsms() as csms:
        config = config_for(
            csms.url,
            charge_points=4,
            ocpp_version="mixed",
            duration=2.5,
            sessions_per_hour=36_000,
            session_minutes=0.015,
            meter_interval=0.2,
            id_tags=("A", "B", "C", "D"),
        )
        report = await Simulation(config).run()

    assert csms.invalid == []
    assert csms.versions == {
        "SIM-00001": "1.6",
        "SIM-00002": "2.0.1",
        "SIM-00003": "1.6",
        "SIM-00004": "2.0.1",
    }
    assert "StartTransaction" in csms.actions("SIM-00001")
    assert "TransactionEvent" not in csms.actions("SIM-00001")
    assert "TransactionEvent" in csms.actions("SIM-00002")
    assert "StartTransaction" not in csms.actions("SIM-00002")

    versions = report["versions"]
    assert list(versions) == ["1.6", "2.0.1"]
    for part in versions.values():
        assert part["connections"]["target"] == part["connections"]["connected_at_end"] == 2
        assert part["sessions"]["started"] >= 1
    assert "StartTransaction" in versions["1.6"]["sent"]
    assert "TransactionEvent" in versions["2.0.1"]["sent"]
    assert "TransactionEvent" not in versions["1.6"]["sent"]
    # The versions add up to the fleet.
    for key in ("started", "completed"):
        assert report["sessions"][key] == sum(p["sessions"][key] for p in versions.values())
    assert report["totals"]["sent"] == sum(p["totals"]["sent"] for p in versions.values())
    statuses = sum(p["sent"]["StatusNotification"]["sent"] for p in versions.values())
    assert report["sent"]["StatusNotification"]["sent"] == statuses
    text = format_report(report)
    assert text.startswith("OCPP 1.6J + OCPP 2.0.1 simulation: 4 charge points")
    assert "Per OCPP version" in text and "CALLs sent (2.0.1)" in text


@pytest.mark.parametrize(
    ("mix", "speaking_201"),
    [
        (0.5, [1, 3, 5, 7, 9]),
        (0.25, [3, 7]),
        (0.3, [3, 6, 9]),
        (0, []),
        (1, list(range(10))),
    ],
)
def test_mixed_fleets_spread_the_2_0_1_charge_points_evenly(mix, speaking_201):
    config = SimulationConfig(
        url="ws://127.0.0.1:1/", charge_points=10, ocpp_version="mixed", mix=mix
    )
    assert [i for i in range(10) if config.version_for(i) == "2.0.1"] == speaking_201
    counts = config.version_counts()
    assert counts.get("2.0.1", 0) == len(speaking_201)
    assert sum(counts.values()) == 10


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ocpp_version": "2.0"}, "--ocpp-version must be 1.6, 2.0.1 or mixed"),
        ({"mix": 0.5}, "--mix needs --ocpp-version mixed"),
        ({"ocpp_version": "mixed", "mix": 1.5}, "--mix must be between 0 and 1"),
    ],
)
def test_version_options_that_cannot_work_are_refused(options, message):
    with pytest.raises(ConfigError, match=message):
        SimulationConfig(url="ws://127.0.0.1:1/", **options).validate()


async def test_a_server_that_does_not_agree_to_2_0_1_is_a_failed_handshake():
    from websockets.asyncio.server import serve

    async def handler(websocket):
        await websocket.wait_closed()

    def no_subprotocol(connection, offered):
        return None  # accepts the WebSocket, agrees to no subprotocol

    async with serve(handler, "127.0.0.1", 0, select_subprotocol=no_subprotocol) as server:
        port = server.sockets[0].getsockname()[1]
        config = config_for(f"ws://127.0.0.1:{port}/ocpp/", ocpp_version="2.0.1", duration=0.5)
        report = await Simulation(config).run()
    assert set(report["connections"]["failed_handshakes"]) == {"no ocpp2.0.1 subprotocol"}
    assert report["connections"]["handshakes_ok"] == 0

"""Commands from the Central System: the exact CALL sent and each kind of answer."""

import asyncio

import pytest

from ocpp_consumer import commands
from ocpp_consumer.journal import journal
from ocpp_consumer.models import Command, CommandStatus, JournalEntry
from stations.models import ConfigurationKey

from .conftest import TIMEOUT

pytestmark = pytest.mark.django_db(transaction=True)

PROFILE = {
    "chargingProfileId": 7,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 21.4}],
    },
}
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"

# action, request payload, the charge point's answer
ROUND_TRIPS = [
    ("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}, {"status": "Scheduled"}),
    ("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "60"}, {"status": "Accepted"}),
    ("ClearCache", {}, {"status": "Accepted"}),
    ("DataTransfer", {"vendorId": "com.example", "messageId": "ping", "data": "1"}, {"status": "Accepted", "data": "pong"}),
    ("GetConfiguration", {"key": ["HeartbeatInterval"]}, {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]}),
    ("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG-1", "chargingProfile": dict(PROFILE, chargingProfilePurpose="TxProfile")}, {"status": "Accepted"}),
    ("RemoteStopTransaction", {"transactionId": 42}, {"status": "Rejected"}),
    ("Reset", {"type": "Hard"}, {"status": "Accepted"}),
    ("UnlockConnector", {"connectorId": 1}, {"status": "Unlocked"}),
    ("GetDiagnostics", {"location": "ftp://diag.example.com/up", "retries": 2}, {"fileName": "diag-1.zip"}),
    ("UpdateFirmware", {"location": "https://fw.example.com/1.2.bin", "retrieveDate": "2026-12-01T02:00:00Z"}, {}),
    ("GetLocalListVersion", {}, {"listVersion": 3}),
    ("SendLocalList", {"listVersion": 4, "updateType": "Full", "localAuthorizationList": [{"idTag": "TAG-1", "idTagInfo": {"status": "Accepted"}}]}, {"status": "Accepted"}),
    ("CancelReservation", {"reservationId": 9}, {"status": "Rejected"}),
    ("ReserveNow", {"connectorId": 1, "expiryDate": "2026-12-01T10:00:00Z", "idTag": "TAG-1", "reservationId": 9}, {"status": "Occupied"}),
    ("ClearChargingProfile", {"id": 7}, {"status": "Unknown"}),
    ("GetCompositeSchedule", {"connectorId": 1, "duration": 3600, "chargingRateUnit": "W"}, {"status": "Accepted", "connectorId": 1, "scheduleStart": "2026-12-01T10:00:00Z", "chargingSchedule": {"chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400.5}]}}),
    ("SetChargingProfile", {"connectorId": 0, "csChargingProfiles": PROFILE}, {"status": "Accepted"}),
    ("TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1}, {"status": "NotImplemented"}),
    ("CertificateSigned", {"certificateChain": PEM}, {"status": "Accepted"}),
    ("DeleteCertificate", {"certificateHashData": {"hashAlgorithm": "SHA256", "issuerNameHash": "aa", "issuerKeyHash": "bb", "serialNumber": "01"}}, {"status": "NotFound"}),
    ("ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}, {"status": "Accepted"}),
    ("GetInstalledCertificateIds", {"certificateType": "CentralSystemRootCertificate"}, {"status": "NotFound"}),
    ("GetLog", {"logType": "SecurityLog", "requestId": 3, "log": {"remoteLocation": "https://logs.example.com/"}}, {"status": "Accepted", "filename": "sec.log"}),
    ("InstallCertificate", {"certificateType": "ManufacturerRootCertificate", "certificate": PEM}, {"status": "Accepted"}),
    ("SignedUpdateFirmware", {"requestId": 5, "firmware": {"location": "https://fw.example.com/2.bin", "retrieveDateTime": "2026-12-01T02:00:00Z", "signingCertificate": PEM, "signature": "c2ln"}}, {"status": "Accepted"}),
]  # fmt: skip


def start(action, payload, *, charge_point_id="CP1", timeout=TIMEOUT):
    return asyncio.create_task(
        commands.command_send(
            charge_point_id=charge_point_id, action=action, payload=payload, timeout=timeout
        )
    )


async def next_call(communicator, action):
    frame = await communicator.next_frame()
    assert len(frame) == 4 and frame[0] == 2 and frame[2] == action, frame
    assert isinstance(frame[1], str) and 0 < len(frame[1]) <= 36
    return frame


def test_every_central_system_action_is_covered():
    assert {action for action, _, _ in ROUND_TRIPS} == commands.CS_TO_CP_ACTIONS


@pytest.mark.parametrize(
    ("action", "payload", "answer"), ROUND_TRIPS, ids=[r[0] for r in ROUND_TRIPS]
)
async def test_command_round_trip(charge_point_socket, action, payload, answer):
    cp = await charge_point_socket()
    sending = start(action, payload)
    frame = await next_call(cp, action)
    assert frame[3] == payload
    await cp.send_json_to([3, frame[1], answer])
    command = await sending
    assert command.status == CommandStatus.ANSWERED
    assert command.response == answer
    assert command.unique_id == frame[1]
    assert command.sent_at is not None and command.answered_at >= command.sent_at


async def test_call_error_answer_fails_the_command(charge_point_socket):
    cp = await charge_point_socket()
    sending = start("Reset", {"type": "Soft"})
    frame = await next_call(cp, "Reset")
    await cp.send_json_to([4, frame[1], "NotSupported", "no resets here", {"why": "x"}])
    command = await sending
    assert command.status == CommandStatus.FAILED
    assert (command.error_code, command.error_description) == ("NotSupported", "no resets here")
    await cp.assert_usable()


async def test_answer_breaking_the_schema_fails_the_command(charge_point_socket):
    cp = await charge_point_socket()
    sending = start("Reset", {"type": "Soft"})
    frame = await next_call(cp, "Reset")
    await cp.send_json_to([3, frame[1], {"status": "Maybe"}])
    command = await sending
    assert command.status == CommandStatus.FAILED
    assert command.error_code == "InvalidResponse"
    assert command.response == {"status": "Maybe"}


async def test_unanswered_command_times_out(charge_point_socket):
    cp = await charge_point_socket()
    sending = start("ClearCache", {}, timeout=0.3)
    frame = await next_call(cp, "ClearCache")
    with pytest.raises(commands.CommandTimeout) as raised:
        await sending
    assert raised.value.command.status == CommandStatus.TIMED_OUT
    # A late answer is ignored and the socket keeps working.
    await cp.send_json_to([3, frame[1], {"status": "Accepted"}])
    await cp.assert_usable()


async def test_commands_are_sent_one_at_a_time_in_order(charge_point_socket):
    cp = await charge_point_socket()
    first = start("ClearCache", {})
    frame_1 = await next_call(cp, "ClearCache")
    second = start("Reset", {"type": "Soft"})
    await asyncio.sleep(0.3)
    assert await cp.receive_nothing(timeout=0.2), "second CALL sent while the first is in flight"
    await cp.send_json_to([3, frame_1[1], {"status": "Accepted"}])
    frame_2 = await next_call(cp, "Reset")
    await cp.send_json_to([3, frame_2[1], {"status": "Accepted"}])
    assert (await first).status == (await second).status == CommandStatus.ANSWERED
    assert frame_1[1] != frame_2[1]


async def test_charge_point_calls_are_answered_while_a_command_waits(charge_point_socket):
    cp = await charge_point_socket()
    sending = start("GetDiagnostics", {"location": "ftp://x/y"})
    frame = await next_call(cp, "GetDiagnostics")
    await cp.assert_usable()  # no deadlock: the consumer still reads frames
    await cp.send_json_to([3, frame[1], {}])
    assert (await sending).status == CommandStatus.ANSWERED


async def test_offline_charge_point(charge_point_socket):
    cp = await charge_point_socket()
    await cp.disconnect()
    with pytest.raises(commands.ChargePointOffline) as raised:
        await start("Reset", {"type": "Soft"})
    assert raised.value.command.status == CommandStatus.OFFLINE


async def test_unknown_charge_point():
    with pytest.raises(commands.ChargePointNotFound):
        await start("Reset", {"type": "Soft"}, charge_point_id="nobody")


@pytest.mark.parametrize(
    ("action", "payload", "error"),
    [
        ("Reset", {"type": "Warm"}, commands.InvalidPayload),
        ("Reset", {}, commands.InvalidPayload),
        ("UnlockConnector", {"connectorId": "one"}, commands.InvalidPayload),
        ("BootNotification", {}, commands.UnknownAction),
        ("Explode", {}, commands.UnknownAction),
    ],
)
async def test_invalid_commands_are_refused_before_anything_is_recorded(
    charge_point_socket, action, payload, error
):
    cp = await charge_point_socket()
    with pytest.raises(error):
        await start(action, payload)
    assert await Command.objects.acount() == 0
    assert await cp.receive_nothing(timeout=0.2)


async def test_disconnect_ends_in_flight_and_queued_commands_offline(charge_point_socket):
    cp = await charge_point_socket()
    first = start("ClearCache", {})
    await next_call(cp, "ClearCache")
    second = start("Reset", {"type": "Soft"})
    await asyncio.sleep(0.3)
    await cp.disconnect(timeout=TIMEOUT)
    for task in (first, second):
        with pytest.raises(commands.ChargePointOffline):
            await task
    statuses = [c.status async for c in Command.objects.order_by("id")]
    assert statuses == [CommandStatus.OFFLINE, CommandStatus.OFFLINE]


async def test_get_configuration_answer_is_stored(charge_point_socket):
    cp = await charge_point_socket()
    sending = start("GetConfiguration", {})
    frame = await next_call(cp, "GetConfiguration")
    await cp.send_json_to(
        [
            3,
            frame[1],
            {
                "configurationKey": [
                    {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
                    {"key": "ChargePointVendor", "readonly": True, "value": "ACME"},
                ],
                "unknownKey": ["Bogus"],
            },
        ]
    )
    await sending
    stored = {
        k.key: (k.value, k.readonly, k.is_known) async for k in ConfigurationKey.objects.all()
    }
    assert stored == {
        "HeartbeatInterval": ("300", False, True),
        "ChargePointVendor": ("ACME", True, True),
        "Bogus": (None, False, False),
    }


@pytest.mark.parametrize(("status", "stored"), [("Accepted", "60"), ("Rejected", "300")])
async def test_change_configuration_updates_only_when_accepted(charge_point_socket, status, stored):
    cp = await charge_point_socket()
    charge_point = await cp_model("CP1")
    await ConfigurationKey.objects.acreate(
        charge_point=charge_point, key="HeartbeatInterval", value="300"
    )
    sending = start("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"})
    frame = await next_call(cp, "ChangeConfiguration")
    await cp.send_json_to([3, frame[1], {"status": status}])
    await sending
    key = await ConfigurationKey.objects.aget(charge_point=charge_point, key="HeartbeatInterval")
    assert key.value == stored


async def test_journal_pairs_command_and_answer(charge_point_socket):
    cp = await charge_point_socket()
    sending = start("Reset", {"type": "Soft"})
    frame = await next_call(cp, "Reset")
    await cp.send_json_to([3, frame[1], {"status": "Accepted"}])
    await sending
    await journal.flush()
    entries = [
        (e.direction, e.message_type, e.action, e.payload)
        async for e in JournalEntry.objects.filter(unique_id=frame[1]).order_by("id")
    ]
    assert entries == [
        ("out", 2, "Reset", {"type": "Soft"}),
        ("in", 3, "Reset", {"status": "Accepted"}),
    ]


async def test_stray_answers_are_ignored(charge_point_socket):
    cp = await charge_point_socket()
    await cp.send_json_to([3, "never-sent", {"status": "Accepted"}])
    await cp.send_json_to([4, "never-sent-either", "GenericError", "", {}])
    await cp.assert_usable()


async def cp_model(charge_point_id):
    from stations.models import ChargePoint

    return await ChargePoint.objects.aget(charge_point_id=charge_point_id)


def test_201_secrets_are_masked_in_records_and_journal():
    from ocpp_consumer.commands.records import configuration_redacted

    profile = {
        "configurationSlot": 1,
        "connectionData": {
            "ocppVersion": "OCPP20",
            "apn": {"apn": "internet", "apnPassword": "s3cret", "apnAuthentication": "AUTO"},
            "vpn": {
                "server": "vpn",
                "user": "u",
                "password": "p4ss",
                "key": "k3y",
                "type": "IPSec",
            },
        },
    }
    masked = configuration_redacted(action="SetNetworkProfile", payload=profile)
    assert masked["connectionData"]["apn"] == {
        "apn": "internet",
        "apnPassword": "********",
        "apnAuthentication": "AUTO",
    }
    assert masked["connectionData"]["vpn"]["password"] == "********"
    assert masked["connectionData"]["vpn"]["key"] == "********"
    assert profile["connectionData"]["apn"]["apnPassword"] == "s3cret"  # the CALL keeps it
    variables = {
        "setVariableData": [
            {
                "attributeValue": "0123456789abcdef",
                "component": {"name": "SecurityCtrlr"},
                "variable": {"name": "BasicAuthPassword"},
            },
            {
                "attributeValue": "300",
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
            },
        ]
    }
    masked = configuration_redacted(action="SetVariables", payload=variables)
    assert [item["attributeValue"] for item in masked["setVariableData"]] == ["********", "300"]

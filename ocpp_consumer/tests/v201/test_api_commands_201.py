"""Commands to OCPP 2.0.1 charge points through the REST API: same URLs, the 2.0.1 schemas.

The charge point is a WebsocketCommunicator speaking ocpp2.0.1 on the ASGI
app; the API request runs in a worker thread, as under Daphne.
"""

from __future__ import annotations

import pytest
from ocpp.charge_point import camel_to_snake_case

from api_support.testing import client_for, make_charge_point, make_operator
from ocpp_consumer.api.schemas import (
    API_ACTIONS,
    answer_schema,
    command_request_schema,
)
from ocpp_consumer.api.views import kebab_case
from ocpp_consumer.commands import CS_TO_CP_ACTIONS
from ocpp_consumer.commands.actions_201 import CSMS_ACTIONS
from ocpp_consumer.models import Command, CommandStatus
from stations.models import ChargePoint

from ..test_api_commands import answer, api_post, next_call, operator_client
from .station import station_201

pytestmark = pytest.mark.django_db(transaction=True)

COMMANDS = "/api/v1/charge-points/CP201/commands/"
# action, request (camelCase, as on the wire), the station's answer
ROUND_TRIPS_201 = [
    ("Reset", {"type": "OnIdle", "evseId": 1}, {"status": "Scheduled"}),
    ("UnlockConnector", {"evseId": 1, "connectorId": 2}, {"status": "Unlocked"}),
    ("TriggerMessage", {"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}}, {"status": "Accepted"}),
    ("ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 1}}, {"status": "Scheduled"}),
    ("GetLog", {"logType": "DiagnosticsLog", "requestId": 7, "log": {"remoteLocation": "https://logs.example.com/up"}}, {"status": "Accepted", "filename": "diag-7.zip"}),
    ("UpdateFirmware", {"requestId": 8, "firmware": {"location": "https://fw.example.com/2.bin", "retrieveDateTime": "2026-12-01T02:00:00Z"}}, {"status": "Rejected", "statusInfo": {"reasonCode": "NoSpace"}}),
    ("ClearCache", {}, {"status": "Accepted"}),
    ("DataTransfer", {"vendorId": "com.example", "messageId": "ping", "data": {"n": 1}}, {"status": "Accepted", "data": [1, 2]}),
    ("GetVariables", {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]}, {"getVariableResult": [{"attributeStatus": "Accepted", "attributeValue": "300", "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]}),
    ("GetBaseReport", {"requestId": 9, "reportBase": "SummaryInventory"}, {"status": "Accepted"}),
    ("RequestStopTransaction", {"transactionId": "tx-201-a"}, {"status": "Rejected"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("action", "payload", "reply"), ROUND_TRIPS_201, ids=[r[0] for r in ROUND_TRIPS_201]
)
async def test_201_commands_round_trip_through_the_api(charge_point_socket, action, payload, reply):
    """snake_case body -> the exact 2.0.1 CALL; the answer -> its status and snake_case JSON."""
    socket = await station_201(charge_point_socket)
    client = await operator_client()
    pending = api_post(client, f"{COMMANDS}{kebab_case(action)}/", camel_to_snake_case(payload))
    frame = await next_call(socket, action)
    assert frame[3] == payload
    await answer(socket, frame, reply)
    response = await pending
    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": reply.get("status", "Answered"),
        "response": camel_to_snake_case(reply),
    }
    command = await Command.objects.aget()
    assert (command.action, command.status, command.source) == (
        action,
        CommandStatus.ANSWERED,
        "api",
    )


async def test_request_start_answers_with_its_command_id(charge_point_socket):
    socket = await station_201(charge_point_socket)
    client = await operator_client()
    body = {"evse_id": 1, "remote_start_id": 41, "id_token": {"id_token": "TAG-1", "type": "Local"}}
    pending = api_post(client, f"{COMMANDS}request-start-transaction/", body)
    frame = await next_call(socket, "RequestStartTransaction")
    assert frame[3] == {
        "evseId": 1,
        "remoteStartId": 41,
        "idToken": {"idToken": "TAG-1", "type": "Local"},
    }
    await answer(socket, frame, {"status": "Accepted"})
    response = await pending
    assert response.status_code == 200, response.content
    command = await Command.objects.aget()
    assert response.json() == {
        "status": "Accepted",
        "response": {"status": "Accepted"},
        "command_id": command.pk,
    }


async def test_a_call_error_of_a_201_station_answers_502(charge_point_socket):
    socket = await station_201(charge_point_socket)
    client = await operator_client()
    pending = api_post(client, f"{COMMANDS}set-network-profile/", _network_profile())
    frame = await next_call(socket, "SetNetworkProfile")
    await socket.send_json_to([4, frame[1], "NotSupported", "no slots", {}])
    response = await pending
    assert response.status_code == 502
    assert response.json() == {"detail": "no slots", "error_code": "NotSupported"}


def _network_profile() -> dict:
    return {
        "configuration_slot": 1,
        "connection_data": {
            "ocpp_version": "OCPP20",
            "ocpp_transport": "JSON",
            "ocpp_csms_url": "wss://csms.example.com/ocpp/",
            "message_timeout": 30,
            "security_profile": 1,
            "ocpp_interface": "Wired0",
        },
    }


# --- refusals, before anything is sent (no socket needed) ------------------------


@pytest.fixture
def _short_timeout(settings):
    settings.OCPP_CALL_TIMEOUT = 0.1  # should something be sent after all: fail fast


def _charger(charge_point_id: str, version: str) -> ChargePoint:
    """Marked connected on a channel nobody reads: a refusal must come before sending."""
    charge_point = make_charge_point(charge_point_id, is_online=True)
    ChargePoint.objects.filter(pk=charge_point.pk).update(
        ocpp_version=version, connection_channel="nobody.inmemory!x"
    )
    return charge_point


@pytest.mark.usefixtures("_short_timeout")
@pytest.mark.parametrize(
    ("version", "path", "body", "action"),
    [
        ("2.0.1", "remote-start-transaction/", {"id_tag": "T"}, "RemoteStartTransaction"),
        ("2.0.1", "get-configuration/", {}, "GetConfiguration"),
        ("1.6", "request-start-transaction/", {"remote_start_id": 1, "id_token": {"id_token": "T", "type": "Local"}}, "RequestStartTransaction"),
        ("1.6", "get-variables/", {"get_variable_data": []}, "GetVariables"),
    ],
)  # fmt: skip
def test_an_action_of_the_other_version_answers_400_naming_the_version(version, path, body, action):
    _charger("CPX", version)
    client = client_for(make_operator("stations.change_chargepoint"))
    response = client.post(f"/api/v1/charge-points/CPX/commands/{path}", body, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": [
            f"{action} is not an OCPP {version} command (the charge point speaks OCPP {version})"
        ]
    }
    assert not Command.objects.exists()


@pytest.mark.usefixtures("_short_timeout")
@pytest.mark.parametrize(
    ("path", "body", "errors"),
    [
        # A 1.6 body to a 2.0.1 charge point fails the 2.0.1 schema, named like 1.6's.
        ("reset/", {"type": "Soft"}, {"type": ["'Soft' is not one of ['Immediate', 'OnIdle']"]}),
        ("unlock-connector/", {"connector_id": 1}, {"evse_id": ["This field is required."]}),
        ("change-availability/", {"operational_status": "Operative", "evse": {}}, {"evse.id": ["This field is required."]}),
        ("get-log/", {"log_type": "DiagnosticsLog", "request_id": 1, "log": {}}, {"log.remote_location": ["This field is required."]}),
        ("update-firmware/", {"request_id": "one", "firmware": {"location": "x", "retrieve_date_time": "2026-12-01T02:00:00Z"}}, {"request_id": ["'one' is not of type 'integer'"]}),
        ("trigger-message/", {"requested_message": "DiagnosticsStatusNotification"}, {"requested_message": ["'DiagnosticsStatusNotification' is not one of ['BootNotification', 'LogStatusNotification', 'FirmwareStatusNotification', 'Heartbeat', 'MeterValues', 'SignChargingStationCertificate', 'SignV2GCertificate', 'StatusNotification', 'TransactionEvent', 'SignCombinedCertificate', 'PublishFirmwareStatusNotification']"]}),
        ("clear-cache/", {"connector_id": 1}, {"connector_id": ["Unknown field."]}),
    ],
)  # fmt: skip
def test_a_body_the_201_schema_rejects_answers_400_naming_the_field(path, body, errors):
    _charger("CP201", "2.0.1")
    client = client_for(make_operator("stations.change_chargepoint"))
    response = client.post(f"{COMMANDS}{path}", body, format="json")
    assert response.status_code == 400
    assert response.json() == errors
    assert not Command.objects.exists()


def test_a_201_command_to_a_charge_point_not_connected_is_409():
    charge_point = make_charge_point("CP201")
    ChargePoint.objects.filter(pk=charge_point.pk).update(ocpp_version="2.0.1")
    client = client_for(make_operator("stations.change_chargepoint"))
    response = client.post(f"{COMMANDS}reset/", {"type": "Immediate"}, format="json")
    assert response.status_code == 409
    assert Command.objects.get().status == CommandStatus.OFFLINE


# --- one URL per action, documented for each version ------------------------------


def test_every_action_of_both_versions_has_its_url():
    client = client_for(make_operator("stations.change_chargepoint"))
    assert API_ACTIONS == CS_TO_CP_ACTIONS | CSMS_ACTIONS
    for action in API_ACTIONS:
        # No charge point: a 404 from the view (not the "unknown command" one).
        response = client.post(f"/api/v1/charge-points/NONE/commands/{kebab_case(action)}/", {})
        assert response.status_code == 404, action
        assert "Unknown command" not in response.json()["detail"], action


def test_each_version_s_request_is_documented():
    shared = command_request_schema("Reset")
    assert [option["title"] for option in shared["anyOf"]] == ["OCPP 1.6", "OCPP 2.0.1"]
    v16, v201 = (option["properties"]["type"]["enum"] for option in shared["anyOf"])
    assert (v16, v201) == (["Hard", "Soft"], ["Immediate", "OnIdle"])
    only_201 = command_request_schema("RequestStartTransaction")
    assert "anyOf" not in only_201
    assert set(only_201["required"]) == {"remote_start_id", "id_token"}
    assert only_201["properties"]["id_token"]["required"] == ["id_token", "type"]
    only_16 = command_request_schema("RemoteStartTransaction")
    assert only_16["required"] == ["id_tag"]
    for action in API_ACTIONS:
        text = str(command_request_schema(action))
        assert "$ref" not in text and "'comment'" not in text and "\\r\\n" not in text, action


def test_answer_status_values_of_both_versions_are_documented():
    status = answer_schema("UpdateFirmware")["properties"]["status"]["enum"]
    # 1.6's answer has no status (Answered); 2.0.1's has its own.
    assert status[0] == "Answered" and "InvalidCertificate" in status
    starts = answer_schema("RequestStartTransaction")
    assert "command_id" in starts["required"]
    assert "command_id" not in answer_schema("Reset")["properties"]

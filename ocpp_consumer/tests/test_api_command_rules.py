"""Who may send which command, and the answers that need no charge point at all."""

from datetime import timedelta

import pytest
from django.utils import timezone

from api_support.testing import (
    client_for,
    make_charge_point,
    make_driver,
    make_operator,
    make_session,
)
from drivers.models import IdTag
from ocpp_consumer.api.payloads import field_errors
from ocpp_consumer.api.schemas import request_schema
from ocpp_consumer.commands import CS_TO_CP_ACTIONS
from ocpp_consumer.models import Command, CommandStatus
from stations.models import ChargePoint

pytestmark = pytest.mark.django_db

COMMANDS = "/api/v1/charge-points/CP1/commands/"
START = f"{COMMANDS}remote-start-transaction/"
STOP = f"{COMMANDS}remote-stop-transaction/"


@pytest.fixture(autouse=True)
def _short_timeout(settings):
    # Should a refused command be sent after all, fail fast instead of waiting 30 s.
    settings.OCPP_CALL_TIMEOUT = 0.1


@pytest.fixture
def online():
    """CP1 marked connected (nobody holds the socket: nothing may be sent to it)."""
    charge_point = make_charge_point("CP1", is_online=True, connectors={1: "Available"})
    ChargePoint.objects.filter(pk=charge_point.pk).update(connection_channel="nobody.inmemory!x")
    return charge_point


def post(client, path, body):
    return client.post(path, body, format="json")


def test_anonymous_gets_401():
    make_charge_point("CP1")
    assert post(client_for(), f"{COMMANDS}reset/", {"type": "Soft"}).status_code == 401


def test_staff_without_change_permission_gets_403(online):
    client = client_for(make_operator("stations.view_chargepoint"))
    response = post(client, f"{COMMANDS}reset/", {"type": "Soft"})
    assert response.status_code == 403
    assert not Command.objects.exists()


# command_send closes the thread's connection (database_sync_to_async): such
# tests cannot run inside a test transaction.
@pytest.mark.django_db(transaction=True)
def test_offline_charge_point_answers_409_and_records_it():
    make_charge_point("CP1", is_online=False)
    client = client_for(make_operator("stations.change_chargepoint"))
    response = post(client, f"{COMMANDS}reset/", {"type": "Soft"})
    assert response.status_code == 409
    assert "not connected" in response.json()["detail"]
    assert Command.objects.get().status == CommandStatus.OFFLINE


@pytest.mark.django_db(transaction=True)
def test_unknown_charge_point_answers_404():
    client = client_for(make_operator("stations.change_chargepoint"))
    response = post(client, "/api/v1/charge-points/NOPE/commands/reset/", {"type": "Soft"})
    assert response.status_code == 404
    assert "detail" in response.json()


def test_unknown_command_answers_json_404(online):
    client = client_for(make_operator("stations.change_chargepoint"))
    response = post(client, f"{COMMANDS}self-destruct/", {})
    assert response.status_code == 404
    assert "self-destruct" in response.json()["detail"]


def test_get_on_a_command_is_405(online):
    client = client_for(make_operator("stations.change_chargepoint"))
    assert client.get(f"{COMMANDS}reset/").status_code == 405


@pytest.mark.parametrize(
    "path, body, errors",
    [
        ("reset/", {}, {"type": ["This field is required."]}),
        ("reset/", {"type": "Warm"}, {"type": ["'Warm' is not one of ['Hard', 'Soft']"]}),
        (
            "unlock-connector/",
            {"connector_id": "one"},
            {"connector_id": ["'one' is not of type 'integer'"]},
        ),
        ("unlock-connector/", {"connector_id": 1, "force": True}, {"force": ["Unknown field."]}),
        (
            "get-log/",
            {"log_type": "DiagnosticsLog", "request_id": 1, "log": {}},
            {"log.remote_location": ["This field is required."]},
        ),
        (
            "set-charging-profile/",
            {
                "connector_id": 1,
                "cs_charging_profiles": {
                    "charging_profile_id": 1,
                    "stack_level": 0,
                    "charging_profile_purpose": "TxProfile",
                    "charging_profile_kind": "Absolute",
                    "charging_schedule": {
                        "charging_rate_unit": "W",
                        "charging_schedule_period": [{"start_period": "x", "limit": 1}],
                    },
                },
            },
            {
                "cs_charging_profiles.charging_schedule.charging_schedule_period.0.start_period": [
                    "'x' is not of type 'integer'"
                ]
            },
        ),
        (
            "reset/",
            ["Soft"],
            {"non_field_errors": ["Send a JSON object with the command's fields."]},
        ),
        # The domain's charging profile rules, named like the schema's errors.
        (
            "set-charging-profile/",
            {
                "connector_id": 1,
                "cs_charging_profiles": {
                    "charging_profile_id": 1,
                    "stack_level": 0,
                    "charging_profile_purpose": "ChargePointMaxProfile",
                    "charging_profile_kind": "Absolute",
                    "charging_schedule": {
                        "charging_rate_unit": "W",
                        "charging_schedule_period": [{"start_period": 0, "limit": 1}],
                    },
                },
            },
            {"connector_id": ["a ChargePointMaxProfile applies to connector 0"]},
        ),
        (
            "remote-start-transaction/",
            {
                "id_tag": "T",
                "charging_profile": {
                    "charging_profile_id": 1,
                    "stack_level": 0,
                    "charging_profile_purpose": "TxProfile",
                    "charging_profile_kind": "Absolute",
                    "charging_schedule": {
                        "charging_rate_unit": "W",
                        "charging_schedule_period": [{"start_period": 60, "limit": 1}],
                    },
                },
            },
            {"charging_profile.charging_schedule.charging_schedule_period": ["must start at 0"]},
        ),
    ],
)
def test_invalid_body_answers_400_naming_the_field(online, path, body, errors):
    client = client_for(make_operator("stations.change_chargepoint"))
    response = post(client, f"{COMMANDS}{path}", body)
    assert response.status_code == 400
    assert response.json() == errors
    assert not Command.objects.exists()


def test_schema_errors_become_snake_case_fields():
    assert field_errors("payload: 'idTag' is a required property") == {
        "id_tag": ["This field is required."]
    }
    assert field_errors(
        "payload: Additional properties are not allowed ('a', 'fooBar' were unexpected)"
    ) == {
        "a": ["Unknown field."],
        "foo_bar": ["Unknown field."],
    }
    assert field_errors("payload: 3 is not of type 'object'") == {
        "non_field_errors": ["3 is not of type 'object'"]
    }


def test_every_command_schema_is_documented_in_snake_case():
    for action in CS_TO_CP_ACTIONS:
        schema = request_schema(action)
        assert schema["type"] == "object", action
        assert "$ref" not in str(schema) and "$schema" not in schema, action
        for name in schema.get("properties", {}):
            assert name == name.lower(), (action, name)
    assert set(request_schema("RemoteStartTransaction")["properties"]) == {
        "connector_id",
        "id_tag",
        "charging_profile",
    }
    assert request_schema("GetLog")["properties"]["log"]["required"] == ["remote_location"]


# --- what a driver may do ---------------------------------------------------------


def test_driver_may_not_send_operator_commands(online):
    client = client_for(make_driver("alice", "ALICE-1"))
    response = post(client, f"{COMMANDS}reset/", {"type": "Hard"})
    assert response.status_code == 403
    assert not Command.objects.exists()


@pytest.mark.parametrize(
    "body, message",
    [
        ({"connector_id": 1, "id_tag": "BOB-1"}, "own id tags"),
        ({"connector_id": 1, "id_tag": "NOBODY"}, "own id tags"),
        ({"connector_id": 1, "id_tag": "ALICE-BLOCKED"}, "Blocked"),
        ({"connector_id": 1, "id_tag": "ALICE-OLD"}, "Expired"),
        ({"connector_id": 2, "id_tag": "ALICE-1"}, "No connector"),
        (
            {
                "connector_id": 1,
                "id_tag": "ALICE-1",
                "charging_profile": {
                    "charging_profile_id": 1,
                    "stack_level": 0,
                    "charging_profile_purpose": "TxProfile",
                    "charging_profile_kind": "Relative",
                    "charging_schedule": {
                        "charging_rate_unit": "A",
                        "charging_schedule_period": [{"start_period": 0, "limit": 32}],
                    },
                },
            },
            "charging profile",
        ),
    ],
)
def test_driver_remote_start_refusals(online, body, message):
    make_driver("bob", "BOB-1")
    IdTag.objects.create(id_tag="NOBODY")
    alice = make_driver("alice", "ALICE-1", "ALICE-BLOCKED", "ALICE-OLD")
    IdTag.objects.filter(id_tag="ALICE-BLOCKED").update(status="Blocked")
    IdTag.objects.filter(id_tag="ALICE-OLD").update(expiry_date=timezone.now() - timedelta(days=1))
    online.connectors.create(connector_id=2, status="Charging")
    response = post(client_for(alice), START, body)
    assert response.status_code == 403
    assert message in response.json()["detail"]
    assert not Command.objects.exists()


def test_driver_remote_start_needs_a_free_connector_when_none_is_named(online):
    online.connectors.update(status="Faulted")
    response = post(client_for(make_driver("alice", "ALICE-1")), START, {"id_tag": "ALICE-1"})
    assert response.status_code == 403


def test_driver_remote_start_on_offline_charge_point_is_409():
    make_charge_point("CP1", is_online=False)
    response = post(
        client_for(make_driver("alice", "ALICE-1")), START, {"connector_id": 1, "id_tag": "ALICE-1"}
    )
    assert response.status_code == 409
    assert not Command.objects.exists()  # unlike an operator's, a driver's attempt is not kept


def test_driver_remote_start_on_unknown_charge_point_is_404():
    response = post(
        client_for(make_driver("alice", "ALICE-1")),
        "/api/v1/charge-points/NOPE/commands/remote-start-transaction/",
        {"id_tag": "ALICE-1"},
    )
    assert response.status_code == 404


@pytest.mark.parametrize("whose", ["bob", "closed", "elsewhere", "missing"])
def test_driver_remote_stop_only_own_open_transaction_here(online, whose):
    alice = make_driver("alice", "ALICE-1")
    make_driver("bob", "BOB-1")
    other = make_charge_point("CP2", is_online=True)
    sessions = {
        "bob": make_session(online, "BOB-1"),
        "closed": make_session(online, "ALICE-1", connector_id=2, energy_wh=10),
        "elsewhere": make_session(other, "ALICE-1"),
    }
    transaction_id = sessions[whose].pk if whose in sessions else 99_999
    response = post(client_for(alice), STOP, {"transaction_id": transaction_id})
    assert response.status_code == 403
    assert not Command.objects.exists()


# --- command history ------------------------------------------------------------------


def test_command_history_is_for_operators_with_view_permission(online):
    Command.objects.create(charge_point=online, action="Reset", payload={"type": "Soft"})
    assert client_for().get(COMMANDS).status_code == 401
    assert client_for(make_driver("alice")).get(COMMANDS).status_code == 403
    assert client_for(make_operator()).get(COMMANDS).status_code == 403
    response = client_for(make_operator("ocpp_consumer.view_command")).get(COMMANDS)
    assert response.json()["count"] == 1


def test_command_history_of_one_charge_point_filtered(online, django_assert_max_num_queries):
    other = make_charge_point("CP2")
    Command.objects.create(charge_point=other, action="Reset")
    for number in range(10):
        Command.objects.create(
            charge_point=online,
            action="GetConfiguration" if number % 2 else "Reset",
            payload={"key": ["HeartbeatInterval"]} if number % 2 else {"type": "Soft"},
            status=CommandStatus.ANSWERED,
            response={"configurationKey": []} if number % 2 else {"status": "Accepted"},
            requested_by=make_operator(),
        )
    client = client_for(make_operator("ocpp_consumer.view_command"))
    with django_assert_max_num_queries(6):
        response = client.get(COMMANDS)
    assert response.json()["count"] == 10
    filtered = client.get(COMMANDS, {"action": "GetConfiguration"}).json()
    assert filtered["count"] == 5
    assert filtered["results"][0]["response"] == {"configuration_key": []}
    assert client.get("/api/v1/charge-points/NOPE/commands/").status_code == 404

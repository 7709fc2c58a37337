"""The compliance suites' trigger server: its translation, then against the real API."""

import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

import ocpp
import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from drivers.models import IdTag
from ocpp_consumer.api.payloads import from_ocpp, to_ocpp
from ocpp_consumer.models import Command, CommandStatus
from stations.models import ChargePoint
from tools.octt_trigger import (
    CsmsApi,
    Trigger,
    kebab_case,
    provision,
    serve,
    snake_key,
    snake_keys,
)

OCPP_SCHEMAS = Path(ocpp.__file__).parent


def _property_names(schema, names: set[str]) -> set[str]:
    if isinstance(schema, dict):
        names.update(schema.get("properties", {}))
        for value in schema.values():
            _property_names(value, names)
    elif isinstance(schema, list):
        for value in schema:
            _property_names(value, names)
    return names


@pytest.mark.parametrize("version", ["v16", "v201"])
def test_every_ocpp_field_name_comes_back_unchanged_through_our_api(version):
    """The adapter's snake_case is what our API turns back into the OCPP name."""
    names: set[str] = set()
    for path in (OCPP_SCHEMAS / version / "schemas").glob("*.json"):
        _property_names(json.loads(path.read_text()), names)
    assert len(names) > 90
    for name in sorted(names):
        assert snake_key(name) == next(iter(from_ocpp({name: None}))), name
        assert to_ocpp({snake_key(name): None}) == {name: None}, name


def test_nested_keys_are_converted_and_values_kept():
    payload = {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingSchedule": {"chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6.0}]}
        },
        "key": ["SupportedFeatureProfiles"],
    }
    assert snake_keys(payload) == {
        "connector_id": 1,
        "cs_charging_profiles": {
            "charging_schedule": {"charging_schedule_period": [{"start_period": 0, "limit": 6.0}]}
        },
        "key": ["SupportedFeatureProfiles"],
    }


@pytest.mark.parametrize(
    ("action", "kebab"),
    [
        ("RequestStartTransaction", "request-start-transaction"),
        ("GetLog", "get-log"),
        ("remote-start-transaction", "remote-start-transaction"),
    ],
)
def test_kebab_case(action, kebab):
    assert kebab_case(action) == kebab


@pytest.fixture
def api(live_server, db):
    operator = get_user_model().objects.create_superuser("octt-operator", "o@example.com", "x")
    token = Token.objects.create(user=operator)
    return CsmsApi(live_server.url, token.key, timeout=10)


@pytest.fixture
def charge_point(db):
    charge_point = ChargePoint(charge_point_id="CP16_SP1", security_profile=1)
    charge_point.set_password("first-password-of-16")
    charge_point.save()
    return charge_point


def test_create_token_creates_then_changes_the_status(api):
    trigger = Trigger(api)
    status, body = trigger.handle(
        "/api/octt/create-token", {"token_id": "C07", "status": "Expired"}
    )
    assert (status, body["status"]) == (200, "Expired")
    assert IdTag.objects.get(id_tag="C07").status == "Expired"

    trigger.handle("/api/octt/create-token", {"token_id": "C07", "status": "Blocked"})
    assert IdTag.objects.get(id_tag="C07").status == "Blocked"


def test_password_pending_boot_and_security_profile(api, charge_point):
    trigger = Trigger(api)
    status, _ = trigger.handle(
        "/api/octt/set-basic-auth-password",
        {"station_id": "CP16_SP1", "password": "second-password-16"},
    )
    trigger.handle("/api/octt/1.6/CP16_SP1/set-pending-boot", {"pending": True})
    trigger.handle("/api/octt/2.0.1/CP16_SP1/set-security-profile", {"security_profile": 2})
    charge_point.refresh_from_db()
    assert status == 200
    assert charge_point.check_password("second-password-16")
    assert (charge_point.registration_status, charge_point.security_profile) == ("Pending", 2)


def test_a_refusal_of_the_api_is_answered_200_with_its_reason(api, charge_point):
    """As the suites' reference servers do: the case, not the trigger, fails."""
    status, body = Trigger(api).handle(
        "/api/octt/set-basic-auth-password", {"station_id": "CP16_SP1", "password": "short"}
    )
    assert status == 200
    assert body["result"] == "error"
    assert body["api_status"] == 400
    assert "password" in body["detail"]


def test_a_command_reaches_our_api_with_the_ocpp_payload(api, charge_point):
    """The charge point is not connected: the API records the command as offline, as sent."""
    payload = {
        "connectorId": 1,
        "idTag": "TAG-001",
        "chargingProfile": {
            "chargingProfileId": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
            },
        },
    }
    status, body = Trigger(api).handle("/api/octt/1.6/CP16_SP1/remote-start-transaction", payload)
    assert status == 200
    assert (body["result"], body["api_status"]) == ("error", 409)
    command = Command.objects.get(charge_point=charge_point)
    assert (command.action, command.status) == ("RemoteStartTransaction", CommandStatus.OFFLINE)
    assert command.payload == payload


def test_the_generic_call_form_names_the_ocpp_action(api, charge_point):
    Trigger(api).handle("/api/octt/2.0.1/CP16_SP1/call/ClearCache", {})
    assert Command.objects.get(charge_point=charge_point).action == "ClearCache"


def test_provision_registers_charge_points_and_id_tags(api):
    ok = provision(
        api,
        [("CP201_SP1", "1:a-password-of-16ch"), ("CP-OPEN", "0")],
        [("TAG-001", "Accepted"), ("100000C06", "Blocked")],
    )
    assert ok
    registered = ChargePoint.objects.get(charge_point_id="CP201_SP1")
    assert registered.registration_status == "Accepted"
    assert registered.check_password("a-password-of-16ch")
    assert ChargePoint.objects.get(charge_point_id="CP-OPEN").security_profile == 0
    assert IdTag.objects.get(id_tag="100000C06").status == "Blocked"


def _post(url: str, body) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_http_server_answers_triggers(api):
    server = serve(Trigger(api), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert (
            _post(f"{base}/api/octt/create-token", {"token_id": "T1", "status": "Blocked"})[0]
            == 200
        )
        assert _post(f"{base}/api/elsewhere", {})[0] == 404
        assert _post(f"{base}/api/octt/create-token", [1])[0] == 400
    finally:
        server.shutdown()
        server.server_close()
    assert IdTag.objects.get(id_tag="T1").status == "Blocked"

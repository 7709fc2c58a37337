"""One rule per charge point setting: the API, the admin and the OCPP handshake agree.

The same ids and passwords go through every door; each refuses them in its own
way (API 400 naming the field, an admin form error, HTTP 404 at the handshake).
"""

from urllib.parse import quote

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from api_support.testing import client_for, make_operator
from ocpp_consumer.handshake import DENIAL_RESPONSE_EXTENSION, throttle
from ocpp_consumer.tests.conftest import TIMEOUT, OcppCommunicator, basic_auth
from stations.models import ChargePoint, charge_point_id_is_valid

CHARGE_POINTS = "/api/v1/charge-points/"
# Outside "1-64 of A-Z a-z 0-9 * - _ = : + | @ . # and space".
BAD_IDS = ["CP<1>", "CP%1", "CP\u00e91", "A" * 65]
# Unusual but inside the rule: every door takes them.
GOOD_IDS = ["CP:01 A#", "a*b=c+d|e@f.g", "A" * 64]
BAD_PASSWORDS = ["x" * 15, "x" * 41]
GOOD_PASSWORDS = ["x" * 16, "x" * 40]


@pytest.fixture(autouse=True)
def _fresh_throttle():
    throttle.clear()
    yield
    throttle.clear()


def _admin_add(admin_client, **fields):
    data = {
        "charge_point_id": "CP-NEW",
        "station": "",
        "registration_status": "Accepted",
        "security_profile": 0,
        "heartbeat_interval": "",
        "new_password": "",
        "connectors-TOTAL_FORMS": "0",
        "connectors-INITIAL_FORMS": "0",
        **fields,
    }
    return admin_client.post(reverse("admin:stations_chargepoint_add"), data)


def _admin_errors(response) -> dict:
    assert response.status_code == 200, "the admin saved what it should refuse"
    return response.context["adminform"].form.errors


def _ocpp_path(charge_point_id: str) -> str:
    return "/ocpp/" + quote(charge_point_id, safe="")


async def _handshake_status(path: str, headers=()) -> int | str:
    """The HTTP status a refused handshake gets, or "connected"."""
    socket = OcppCommunicator(path, headers=list(headers))
    socket.scope["extensions"] = {DENIAL_RESPONSE_EXTENSION: {}}
    await socket.send_input({"type": "websocket.connect"})
    first = await socket.receive_output(timeout=TIMEOUT)
    if first["type"] == "websocket.accept":
        await socket.disconnect(timeout=TIMEOUT)
        return "connected"
    await socket.receive_output(timeout=TIMEOUT)  # the denial's (empty) body
    await socket.disconnect(timeout=TIMEOUT)
    return first["status"]


# --- charge point id -----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("charge_point_id", BAD_IDS + GOOD_IDS)
def test_the_model_and_the_handshake_share_one_id_check(charge_point_id):
    valid = charge_point_id in GOOD_IDS
    assert charge_point_id_is_valid(charge_point_id) is valid
    try:
        ChargePoint(charge_point_id=charge_point_id).full_clean()
    except ValidationError as exc:
        assert not valid and "charge_point_id" in exc.message_dict
    else:
        assert valid


@pytest.mark.django_db
@pytest.mark.parametrize("charge_point_id", BAD_IDS)
def test_api_refuses_a_bad_id_naming_the_field(charge_point_id):
    client = client_for(make_operator(superuser=True))
    response = client.post(CHARGE_POINTS, {"charge_point_id": charge_point_id}, format="json")
    assert response.status_code == 400
    assert "charge_point_id" in response.json()
    assert not ChargePoint.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("charge_point_id", BAD_IDS)
def test_admin_refuses_a_bad_id_on_the_field(admin_client, charge_point_id):
    errors = _admin_errors(_admin_add(admin_client, charge_point_id=charge_point_id))
    assert "charge_point_id" in errors
    assert not ChargePoint.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("charge_point_id", BAD_IDS + ["CP1\n"])
async def test_handshake_refuses_a_bad_id_with_404(channel_layer, charge_point_id):
    assert await _handshake_status(_ocpp_path(charge_point_id)) == 404
    assert not await ChargePoint.objects.aexists()


@pytest.mark.django_db
@pytest.mark.parametrize("charge_point_id", GOOD_IDS)
def test_api_and_admin_register_what_the_handshake_accepts(admin_client, charge_point_id):
    client = client_for(make_operator(superuser=True))
    response = client.post(CHARGE_POINTS, {"charge_point_id": charge_point_id}, format="json")
    assert response.status_code == 201, response.json()
    ChargePoint.objects.all().delete()
    response = _admin_add(admin_client, charge_point_id=charge_point_id)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert ChargePoint.objects.get().charge_point_id == charge_point_id


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("charge_point_id", GOOD_IDS)
async def test_handshake_accepts_every_id_the_rule_allows(channel_layer, charge_point_id):
    assert await _handshake_status(_ocpp_path(charge_point_id)) == "connected"
    assert await ChargePoint.objects.filter(charge_point_id=charge_point_id).aexists()


# --- password ------------------------------------------------------------------------


@pytest.mark.parametrize("password", BAD_PASSWORDS)
def test_set_password_refuses_a_length_outside_the_rule(password):
    charge_point = ChargePoint(charge_point_id="CP1")
    with pytest.raises(ValidationError) as refused:
        charge_point.set_password(password)
    assert "password" in refused.value.message_dict
    assert charge_point.password == ""


@pytest.mark.django_db
@pytest.mark.parametrize("password", BAD_PASSWORDS)
def test_api_and_admin_refuse_the_same_passwords(admin_client, password):
    client = client_for(make_operator(superuser=True))
    body = {"charge_point_id": "CP1", "password": password}
    response = client.post(CHARGE_POINTS, body, format="json")
    assert response.status_code == 400
    assert "password" in response.json()
    assert "new_password" in _admin_errors(_admin_add(admin_client, new_password=password))
    assert not ChargePoint.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("password", GOOD_PASSWORDS)
async def test_a_password_the_rule_allows_signs_in(channel_layer, password):
    charge_point = ChargePoint(charge_point_id="CP1", security_profile=1)
    charge_point.set_password(password)
    await charge_point.asave()
    assert await _handshake_status("/ocpp/CP1", basic_auth("CP1", password)) == "connected"
    assert await _handshake_status("/ocpp/CP1", basic_auth("CP1", "y" * 16)) == 401


# --- security profile and password ---------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("profile", [1, 2])
def test_api_and_admin_refuse_a_basic_auth_profile_without_password(admin_client, profile):
    client = client_for(make_operator(superuser=True))
    body = {"charge_point_id": "CP1", "security_profile": profile}
    response = client.post(CHARGE_POINTS, body, format="json")
    assert response.status_code == 400
    assert response.json()["password"] == [f"Security profile {profile} needs a password."]
    errors = _admin_errors(_admin_add(admin_client, security_profile=profile))
    assert errors["new_password"] == [f"Security profile {profile} needs a password."]
    assert not ChargePoint.objects.exists()


@pytest.mark.django_db
def test_admin_refuses_clearing_the_password_a_profile_needs(admin_client):
    charge_point = ChargePoint(charge_point_id="CP1", security_profile=1)
    charge_point.set_password("x" * 16)
    charge_point.save()
    data = {
        "charge_point_id": "CP1",
        "station": "",
        "registration_status": "Accepted",
        "security_profile": 1,
        "heartbeat_interval": "",
        "new_password": "",
        "clear_password": "on",
        "connectors-TOTAL_FORMS": "0",
        "connectors-INITIAL_FORMS": "0",
    }
    url = reverse("admin:stations_chargepoint_change", args=[charge_point.pk])
    assert "new_password" in _admin_errors(admin_client.post(url, data))
    charge_point.refresh_from_db()
    assert charge_point.check_password("x" * 16)


@pytest.mark.django_db
def test_admin_takes_a_basic_auth_profile_with_a_new_password(admin_client):
    response = _admin_add(admin_client, security_profile=2, new_password="x" * 16)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert ChargePoint.objects.get().check_password("x" * 16)

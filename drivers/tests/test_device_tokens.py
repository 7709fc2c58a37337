"""One API token per signed-in device: sign in twice, sign one out, the other goes on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import RequestFactory
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.test import APIClient

from api_support.testing import make_driver, make_operator
from drivers.api.authentication import DeviceTokenAuthentication
from drivers.models import DeviceToken, device_token_hash
from drivers.services import DEVICE_TOKEN_TOUCH_INTERVAL

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_counters():
    """Counters live in the process's cache: leave none to the next tests (anon shares one)."""
    cache.clear()
    yield
    cache.clear()


TOKEN = "/api/v1/auth/token/"
DEVICES = "/api/v1/auth/devices/"
LOGOUT = "/api/v1/auth/logout/"
ME = "/api/v1/me/"
PASSWORD = "driver-pass-123"


def sign_in(username="alice", device_name=None, user_agent="CSMS-App/2.1 (Android 15)"):
    body = {"username": username, "password": PASSWORD}
    if device_name is not None:
        body["device_name"] = device_name
    response = APIClient().post(TOKEN, body, format="json", HTTP_USER_AGENT=user_agent)
    assert response.status_code == 200, response.json()
    return response.json()


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def alice():
    return make_driver("alice")


def test_each_sign_in_is_a_device_and_signing_one_out_leaves_the_other(alice):
    phone = sign_in(device_name="Alice's Pixel")["token"]
    tablet = sign_in(device_name="Alice's iPad")["token"]
    assert phone != tablet
    assert client_with(phone).get(ME).status_code == 200
    assert client_with(tablet).get(ME).status_code == 200

    assert client_with(phone).post(LOGOUT).status_code == 204
    assert client_with(phone).get(ME).status_code == 401
    assert client_with(tablet).get(ME).json()["username"] == "alice"


def test_the_token_answer_is_the_contract_unless_a_device_is_named(alice):
    assert set(sign_in()) == {"token"}
    named = sign_in(device_name="Alice's Pixel")
    assert set(named) == {"token", "device_id", "expires_at"}
    device = DeviceToken.objects.get(pk=named["device_id"])
    assert device.name == "Alice's Pixel"
    assert device.expires_at is not None


def test_only_a_hash_and_a_prefix_of_the_key_are_stored(alice):
    key = sign_in(device_name="Pixel")["token"]
    device = DeviceToken.objects.get(user=alice)
    assert device.key_hash == device_token_hash(key) != key
    assert key.startswith(device.key_prefix) and len(device.key_prefix) == 8
    assert not DeviceToken.objects.filter(key_hash=key).exists()


def test_devices_lists_mine_with_the_current_one_marked(alice):
    make_driver("bob")
    sign_in("bob", device_name="Bob's phone")
    sign_in(device_name="Pixel", user_agent="ignored when a name is given")
    key = sign_in(user_agent="CSMS-App/2.1 (iOS 18)")["token"]
    listing = client_with(key).get(DEVICES)
    assert listing.status_code == 200
    devices = listing.json()["results"]
    assert sorted(d["name"] for d in devices) == ["CSMS-App/2.1 (iOS 18)", "Pixel"]
    assert [d["current"] for d in devices if d["name"].startswith("CSMS")] == [True]
    assert {"id", "name", "key_prefix", "created_at", "last_used_at", "expires_at"} <= set(
        devices[0]
    )
    assert "key_hash" not in devices[0]


def test_rename_and_revoke_one_device_by_id(alice):
    main = sign_in(device_name="Pixel")["token"]
    lost = sign_in(device_name="Old phone")
    client = client_with(main)
    renamed = client.patch(f"{DEVICES}{lost['device_id']}/", {"name": "Lost phone"}, format="json")
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Lost phone"
    assert client.patch(f"{DEVICES}{lost['device_id']}/", {"name": ""}, format="json").json() == {
        "name": ["This field may not be blank."]
    }
    assert client.delete(f"{DEVICES}{lost['device_id']}/").status_code == 204
    assert client_with(lost["token"]).get(ME).status_code == 401
    assert client.get(ME).status_code == 200
    assert [d["name"] for d in client.get(DEVICES).json()["results"]] == ["Pixel"]


def test_another_users_device_is_not_found(alice):
    make_driver("bob")
    bobs = sign_in("bob", device_name="Bob's phone")
    client = client_with(sign_in(device_name="Pixel")["token"])
    assert client.delete(f"{DEVICES}{bobs['device_id']}/").status_code == 404
    assert client.patch(f"{DEVICES}{bobs['device_id']}/", {"name": "x"}).status_code == 404
    assert client_with(bobs["token"]).get(ME).status_code == 200


def test_revoke_others_keeps_this_device_and_revoke_all_signs_out_everywhere(alice):
    keys = [sign_in(device_name=f"Device {n}")["token"] for n in range(3)]
    Token.objects.create(user=alice)  # an old account-wide token
    client = client_with(keys[0])
    assert client.post(f"{DEVICES}revoke-others/").json() == {"revoked": 3}
    assert [client_with(key).get(ME).status_code for key in keys] == [200, 401, 401]
    assert not Token.objects.filter(user=alice).exists()
    assert client.post(f"{DEVICES}revoke-all/").json() == {"revoked": 1}
    assert client.get(ME).status_code == 401


def test_a_token_issued_before_devices_keeps_working_and_becomes_a_device(alice):
    legacy = Token.objects.create(user=alice).key
    client = client_with(legacy)
    assert client.get(ME).status_code == 200
    assert Token.objects.filter(key=legacy).exists()  # untouched by ordinary requests

    devices = client.get(DEVICES, HTTP_USER_AGENT="curl/8.5").json()["results"]
    assert [(d["name"], d["current"], d["expires_at"]) for d in devices] == [
        ("curl/8.5", True, None)
    ]
    assert not Token.objects.filter(key=legacy).exists()
    assert client.get(ME).status_code == 200  # same key, now a device that never expires
    assert client.delete(f"{DEVICES}{devices[0]['id']}/").status_code == 204
    assert client.get(ME).status_code == 401


def test_logout_with_an_old_token_deletes_it(alice):
    legacy = Token.objects.create(user=alice).key
    assert client_with(legacy).post(LOGOUT).status_code == 204
    assert not Token.objects.filter(user=alice).exists()
    assert client_with(legacy).get(ME).status_code == 401


def test_a_token_expires_after_the_ttl_without_use(alice, settings):
    settings.API_TOKEN_TTL_DAYS = 30
    key = sign_in(device_name="Pixel")["token"]
    other = sign_in(device_name="Tablet")["token"]
    device = DeviceToken.objects.get(user=alice, name="Pixel")
    assert timedelta(days=29) < device.expires_at - timezone.now() <= timedelta(days=30)
    DeviceToken.objects.filter(pk=device.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = client_with(key).get(ME)
    assert response.status_code == 401
    assert response.json() == {"detail": "Token expired: sign in again."}
    assert response["WWW-Authenticate"] == "Token"
    listed = client_with(other).get(DEVICES).json()["results"]
    assert [d["name"] for d in listed] == ["Tablet"]


def test_use_slides_the_expiry_at_most_every_few_minutes(alice, settings):
    settings.API_TOKEN_TTL_DAYS = 30
    key = sign_in(device_name="Pixel")["token"]
    device = DeviceToken.objects.get(user=alice)
    client = client_with(key)

    client.get(ME)  # just signed in: nothing written
    assert DeviceToken.objects.get(pk=device.pk).last_used_at == device.last_used_at

    earlier = timezone.now() - DEVICE_TOKEN_TOUCH_INTERVAL - timedelta(seconds=1)
    DeviceToken.objects.filter(pk=device.pk).update(
        last_used_at=earlier, expires_at=earlier + timedelta(days=30)
    )
    client.get(ME)
    device.refresh_from_db()
    assert device.last_used_at > earlier + DEVICE_TOKEN_TOUCH_INTERVAL
    assert device.expires_at - device.last_used_at == timedelta(days=30)


def test_no_write_per_request(alice, django_assert_max_num_queries):
    client = client_with(sign_in(device_name="Pixel")["token"])
    client.get(ME)
    with django_assert_max_num_queries(2):  # the token with its user, the driver profile
        assert client.get(ME).status_code == 200


def test_ttl_zero_means_tokens_never_expire(alice, settings):
    settings.API_TOKEN_TTL_DAYS = 0
    named = sign_in(device_name="Kiosk")
    assert named["expires_at"] is None


def test_an_inactive_users_tokens_stop_working(alice):
    key = sign_in(device_name="Pixel")["token"]
    legacy = Token.objects.create(user=make_driver("bob")).key
    alice.is_active = False
    alice.save()
    type(alice).objects.filter(username="bob").update(is_active=False)
    assert client_with(key).get(ME).status_code == 401
    assert client_with(legacy).get(ME).status_code == 401


def test_a_stale_token_does_not_stop_a_sign_in(alice):
    client = client_with("0" * 43)
    response = client.post(TOKEN, {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 200


def test_garbage_tokens_are_401(alice):
    for key in ("nope", "x" * 500, "a" * 40):
        assert client_with(key).get(ME).status_code == 401, key


def test_the_class_authenticates_a_bare_request_as_the_live_channel_does(alice):
    """The WebSocket consumer passes an object with META only."""
    key = sign_in(device_name="Pixel")["token"]
    request = RequestFactory().get("/ws/driver/", HTTP_AUTHORIZATION=f"Token {key}")
    user, device = DeviceTokenAuthentication().authenticate(request)
    assert user == alice and device.name == "Pixel"
    legacy = Token.objects.create(user=alice).key
    request = RequestFactory().get("/ws/driver/", HTTP_AUTHORIZATION=f"Token {legacy}")
    assert DeviceTokenAuthentication().authenticate(request)[0] == alice
    request = RequestFactory().get("/ws/driver/", HTTP_AUTHORIZATION="Token wrong")
    with pytest.raises(AuthenticationFailed):
        DeviceTokenAuthentication().authenticate(request)


def test_signup_with_a_device_name_gives_a_device_token():
    response = APIClient().post(
        "/api/v1/auth/signup/",
        {"username": "carol", "password": "a-long-passphrase-42", "device_name": "Carol's phone"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert {"device_id", "expires_at"} <= set(body)
    assert not Token.objects.filter(user__username="carol").exists()
    assert client_with(body["token"]).get(ME).json()["username"] == "carol"


def test_operators_have_devices_too():
    make_operator(username="ops")
    response = APIClient().post(
        TOKEN,
        {"username": "ops", "password": "operator-pass-123", "device_name": "Laptop"},
        format="json",
    )
    client = client_with(response.json()["token"])
    assert [d["name"] for d in client.get(DEVICES).json()["results"]] == ["Laptop"]


def test_dead_tokens_are_deleted_a_while_after_they_died(alice):
    sign_in(device_name="Old")
    DeviceToken.objects.update(revoked_at=timezone.now() - timedelta(days=31))
    sign_in(device_name="New")
    assert list(DeviceToken.objects.values_list("name", flat=True)) == ["New"]


def test_operators_see_devices_and_sign_one_out_in_the_console(alice, client):
    key = sign_in(device_name="Pixel")["token"]
    client.force_login(make_operator(superuser=True))
    listing = client.get("/admin/drivers/devicetoken/")
    assert listing.status_code == 200
    assert "Pixel" in listing.content.decode()
    assert key not in listing.content.decode()
    device = DeviceToken.objects.get(user=alice)
    response = client.post(
        "/admin/drivers/devicetoken/",
        {"action": "revoke_selected", "_selected_action": [device.pk]},
    )
    assert response.status_code == 302
    assert client_with(key).get(ME).status_code == 401
    assert client.get("/admin/drivers/devicetoken/add/").status_code == 403

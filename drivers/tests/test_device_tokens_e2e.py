"""The per-device token flow against a real Daphne, as an app meets it over HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from django.contrib.auth.hashers import make_password
from rest_framework.authtoken.models import Token

from csms_project import testing
from drivers.models import User

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-passphrase-42"


def call(base: str, method: str, path: str, token: str | None = None, body: dict | None = None):
    headers = {"Content-Type": "application/json", "User-Agent": "CSMS-App/2.1"}
    if token:
        headers["Authorization"] = f"Token {token}"
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers=headers,
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None, response.headers
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None, exc.headers


def test_two_phones_sign_in_one_is_signed_out_the_other_goes_on(tmp_path):
    # Hashed as the server process hashes (the tests' fast hasher is theirs alone).
    user = User.objects.create(
        username="alice", password=make_password(PASSWORD, hasher="pbkdf2_sha256")
    )
    legacy = Token.objects.create(user=user).key
    with testing.daphne_node(testing.process_env(), tmp_path) as base:
        credentials = {"username": "alice", "password": PASSWORD}
        status, phone, headers = call(
            base, "POST", "/api/v1/auth/token/", body={**credentials, "device_name": "Pixel"}
        )
        assert status == 200 and set(phone) == {"token", "device_id", "expires_at"}
        assert int(headers["X-RateLimit-Remaining"]) >= 0  # header names ignore case
        status, tablet, _ = call(base, "POST", "/api/v1/auth/token/", body=credentials)
        assert status == 200 and set(tablet) == {"token"}

        for token in (phone["token"], tablet["token"], legacy):
            assert call(base, "GET", "/api/v1/me/", token)[0] == 200

        status, listing, _ = call(base, "GET", "/api/v1/auth/devices/", tablet["token"])
        assert status == 200
        names = sorted(device["name"] for device in listing["results"])
        assert names == ["API token", "CSMS-App/2.1", "Pixel"]

        path = f"/api/v1/auth/devices/{phone['device_id']}/"
        assert call(base, "DELETE", path, tablet["token"])[0] == 204
        status, body, headers = call(base, "GET", "/api/v1/me/", phone["token"])
        assert status == 401 and headers["WWW-Authenticate"] == "Token"
        assert call(base, "GET", "/api/v1/me/", tablet["token"])[0] == 200
        assert call(base, "GET", "/api/v1/me/", legacy)[0] == 200

        assert call(base, "POST", "/api/v1/auth/logout/", tablet["token"])[0] == 204
        assert call(base, "GET", "/api/v1/me/", tablet["token"])[0] == 401
        assert call(base, "GET", "/api/v1/me/", legacy)[0] == 200

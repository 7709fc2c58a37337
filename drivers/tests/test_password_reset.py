"""Forgot password: a link by e-mail, the same answer for any address, a new password."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.mail.backends.base import BaseEmailBackend
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from api_support.testing import make_driver
from drivers.api.mail import mail_wait

pytestmark = pytest.mark.django_db

RESET = "/api/v1/auth/password-reset/"
CONFIRM = "/api/v1/auth/password-reset/confirm/"
TOKEN = "/api/v1/auth/token/"
NEW_PASSWORD = "a-brand-new-passphrase-7"


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()  # the one-mail-a-minute guard and the throttle counters
    yield
    cache.clear()


@pytest.fixture
def alice():
    user = make_driver("alice")
    user.email = "alice@example.com"
    user.first_name = "Alice"
    user.save()
    return user


def ask(email: str, client: APIClient | None = None):
    response = (client or APIClient()).post(RESET, {"email": email}, format="json")
    mail_wait()
    return response


def link_in(message) -> dict[str, str]:
    url = re.search(r"\S+://\S+", message.body).group(0)
    query = parse_qs(urlsplit(url).query)
    return {"uid": query["uid"][0], "token": query["token"][0]}


def confirm(link: dict, password: str = NEW_PASSWORD):
    return APIClient().post(CONFIRM, {**link, "new_password": password}, format="json")


def test_the_whole_flow(alice, settings):
    settings.DEFAULT_FROM_EMAIL = "Charging Co <support@charging.example>"
    settings.PASSWORD_RESET_URL = "chargingco://reset?uid={uid}&token={token}"
    response = ask("ALICE@example.com")
    assert response.status_code == 202
    [message] = mail.outbox
    assert message.to == ["alice@example.com"]
    assert message.from_email == "Charging Co <support@charging.example>"
    assert "chargingco://reset?uid=" in message.body
    assert "Alice" in message.body

    assert confirm(link_in(message)).status_code == 204
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    signed_in = APIClient().post(
        TOKEN, {"username": "alice", "password": NEW_PASSWORD}, format="json"
    )
    assert signed_in.status_code == 200


def test_no_account_enumeration(alice):
    known = ask("alice@example.com")
    unknown = ask("nobody@example.com")
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert len(mail.outbox) == 1


def test_inactive_and_deleted_accounts_get_no_mail(alice):
    alice.is_active = False
    alice.save()
    assert ask("alice@example.com").status_code == 202
    assert mail.outbox == []


def test_a_link_works_once(alice):
    ask("alice@example.com")
    link = link_in(mail.outbox[0])
    assert confirm(link).status_code == 204
    again = confirm(link, "yet-another-passphrase-9")
    assert again.status_code == 400
    assert list(again.json()) == ["token"]


@pytest.mark.parametrize(
    "link",
    [
        {"uid": "MQ", "token": "nonsense"},
        {"uid": "!!!", "token": "x"},
        {"uid": "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "token": "x"},  # 10**30
    ],
)
def test_a_wrong_link_is_a_400_under_token(alice, link):
    response = confirm(link)
    assert response.status_code == 400
    assert list(response.json()) == ["token"]


def test_a_weak_password_is_a_400_under_new_password(alice):
    ask("alice@example.com")
    response = confirm(link_in(mail.outbox[0]), "12345678")
    assert response.status_code == 400
    body = response.json()
    assert list(body) == ["new_password"]
    assert any("common" in message or "numeric" in message for message in body["new_password"])
    alice.refresh_from_db()
    assert alice.check_password("driver-pass-123")


def test_missing_fields_are_named():
    assert APIClient().post(CONFIRM, {}, format="json").json() == {
        "uid": ["This field is required."],
        "token": ["This field is required."],
        "new_password": ["This field is required."],
    }
    assert list(APIClient().post(RESET, {"email": "not-mail"}, format="json").json()) == ["email"]


def test_a_reset_signs_out_every_device(alice):
    old = Token.objects.create(user=alice).key
    device = (
        APIClient()
        .post(
            TOKEN,
            {"username": "alice", "password": "driver-pass-123", "device_name": "Pixel"},
            format="json",
        )
        .json()["token"]
    )
    ask("alice@example.com")
    assert confirm(link_in(mail.outbox[0])).status_code == 204
    for key in (old, device):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        assert client.get("/api/v1/me/").status_code == 401


def test_one_mail_a_minute_per_account(alice):
    ask("alice@example.com")
    ask("alice@example.com")
    assert len(mail.outbox) == 1


def test_requests_are_throttled_per_address(alice, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "password_reset": "2/hour",
        },
    }
    client = APIClient()
    assert [ask(f"x{n}@example.com", client).status_code for n in range(2)] == [202, 202]
    throttled = ask("alice@example.com", client)
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    assert throttled["X-RateLimit-Remaining"] == "0"
    assert mail.outbox == []


class BrokenBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("mail server down")


def test_a_mail_server_down_changes_nothing_for_the_caller(alice, settings, caplog):
    settings.EMAIL_BACKEND = f"{__name__}.BrokenBackend"
    response = ask("alice@example.com")
    assert response.status_code == 202
    assert response.json() == ask("nobody@example.com").json()
    assert "could not be sent" in caplog.text

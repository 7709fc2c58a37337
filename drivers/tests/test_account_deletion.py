"""Deleting my account: the person is erased, the books and the history stay."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt, AccessLog
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from api_support.testing import (
    client_for,
    make_charge_point,
    make_driver,
    make_invoice,
    make_operator,
    make_session,
)
from billing.models import Invoice
from drivers.models import ContractCertificate, DeviceToken, Driver, IdTag, User
from stations.models import Transaction

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_counters():
    """Counters live in the process's cache: leave none to the next tests (anon shares one)."""
    cache.clear()
    yield
    cache.clear()


ME = "/api/v1/me/"
PASSWORD = "driver-pass-123"


@pytest.fixture
def alice():
    user = make_driver("alice", "ALICE-CARD", "ALICE-APP")
    user.email = "alice@example.com"
    user.first_name, user.last_name = "Alice", "Smith"
    user.save()
    user.driver.phone = "+31 6 1234"
    user.driver.save()
    ContractCertificate.objects.create(
        driver=user.driver,
        emaid="NL-ABC-C12345678-9",
        issuer_name_hash="aa",
        issuer_key_hash="bb",
        serial_number="01",
    )
    charge_point = make_charge_point("CP1")
    make_invoice(make_session(charge_point, "ALICE-CARD", energy_wh=7500))
    return user


def delete_me(client, password=PASSWORD):
    return client.delete(ME, {"password": password}, format="json")


def sign_in(username="alice", password=PASSWORD, **extra):
    return APIClient().post(
        "/api/v1/auth/token/",
        {"username": username, "password": password, **extra},
        format="json",
    )


def test_the_person_is_erased_and_the_books_are_kept(alice):
    device = sign_in(device_name="Pixel").json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {device}")
    Token.objects.create(user=alice)
    assert delete_me(client).status_code == 204

    user = User.objects.get(pk=alice.pk)
    assert user.username.startswith("deleted-") and "alice" not in user.username
    assert (user.email, user.first_name, user.last_name) == ("", "", "")
    assert not user.has_usable_password()
    assert not user.is_active
    assert user.deleted_at is not None
    driver = Driver.objects.get(user=user)
    assert driver.phone == ""

    # The id tags stay (sessions refer to them) but can never start a session again.
    tags = IdTag.objects.filter(driver=driver)
    assert sorted(tags.values_list("id_tag", "status")) == [
        ("ALICE-APP", "Blocked"),
        ("ALICE-CARD", "Blocked"),
    ]
    assert ContractCertificate.objects.get().status == "cancelled"

    # Money and history: kept, still linked to the anonymised driver.
    session = Transaction.objects.get()
    assert session.tag.driver == driver
    assert Invoice.objects.get().transaction == session

    # Signed out everywhere, and no way back in.
    assert not DeviceToken.objects.filter(user=user, revoked_at__isnull=True).exists()
    assert not Token.objects.filter(user=user).exists()
    assert client.get(ME).status_code == 401
    assert sign_in().status_code == 400


def test_a_wrong_password_is_a_400_and_counts_towards_the_lockout(alice, settings):
    client = client_for(alice)
    response = delete_me(client, "wrong")
    assert response.status_code == 400
    assert response.json() == {"password": ["Wrong password."]}
    assert User.objects.get(pk=alice.pk).is_active
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        delete_me(client, "wrong")
    locked = delete_me(client)
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) > 0
    assert User.objects.get(pk=alice.pk).is_active


def test_the_password_is_required(alice):
    response = client_for(alice).delete(ME, {}, format="json")
    assert response.status_code == 400
    assert response.json() == {"password": ["This field is required."]}


def test_operators_delete_accounts_in_the_console():
    operator = make_operator(username="ops")
    response = client_for(operator).delete(ME, {"password": "operator-pass-123"}, format="json")
    assert response.status_code == 403
    assert User.objects.get(pk=operator.pk).is_active


def test_sign_in_records_are_forgotten(alice):
    sign_in(password="wrong")
    assert sign_in().status_code == 200
    assert AccessAttempt.objects.exists() or AccessLog.objects.exists()
    assert delete_me(client_for(alice)).status_code == 204
    assert not AccessAttempt.objects.filter(username__iexact="alice").exists()
    assert not AccessLog.objects.filter(username__iexact="alice").exists()


def test_the_username_and_address_are_free_again(alice):
    assert delete_me(client_for(alice)).status_code == 204
    response = APIClient().post(
        "/api/v1/auth/signup/",
        {"username": "alice", "password": "a-long-passphrase-42", "email": "alice@example.com"},
        format="json",
    )
    assert response.status_code == 201, response.json()

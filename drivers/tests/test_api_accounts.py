"""Sign-up, sign-in, sign-out, the `me` profile, and driver accounts for operators."""

import re

import pytest
from rest_framework.authtoken.models import Token

from api_support.testing import client_for, make_driver, make_operator
from drivers.models import Driver, IdTag, User

pytestmark = pytest.mark.django_db

SIGNUP = "/api/v1/auth/signup/"
TOKEN = "/api/v1/auth/token/"
LOGOUT = "/api/v1/auth/logout/"
ME = "/api/v1/me/"
DRIVERS = "/api/v1/drivers/"


def signup(**overrides):
    body = {"username": "alice", "password": "a-long-passphrase-42", "email": "a@example.com"}
    return client_for().post(SIGNUP, {**body, **overrides}, format="json")


def test_signup_creates_user_driver_virtual_tag_and_token():
    response = signup(phone="+31 6 1234")
    assert response.status_code == 201, response.json()
    body = response.json()
    user = User.objects.get(username="alice")
    assert not user.is_staff
    assert user.check_password("a-long-passphrase-42")
    assert user.driver.phone == "+31 6 1234"
    assert body["token"] == Token.objects.get(user=user).key
    assert body["profile"]["username"] == "alice"
    assert body["profile"]["is_operator"] is False
    [tag] = body["id_tags"]
    assert re.fullmatch(r"[0-9A-F]{20}", tag["id_tag"])
    assert tag["status"] == "Accepted"
    assert IdTag.objects.get(id_tag=tag["id_tag"]).driver == user.driver


def test_signed_up_tags_are_random():
    first = signup(username="a1").json()["id_tags"][0]["id_tag"]
    second = signup(username="a2", email="a2@example.com").json()["id_tags"][0]["id_tag"]
    assert first != second


def test_signup_token_works_at_once():
    token = signup().json()["token"]
    client = client_for()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(ME).json()["username"] == "alice"


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"password": "short"}, "password"),
        ({"password": "12345678901"}, "password"),
        ({"email": "not-an-email"}, "email"),
        ({"username": ""}, "username"),
        ({"username": "bad name!"}, "username"),
    ],
)
def test_signup_refuses_invalid_input_by_field(overrides, field):
    response = signup(**overrides)
    assert response.status_code == 400
    assert field in response.json()
    assert not Driver.objects.exists()
    assert not IdTag.objects.exists()


def test_signup_refuses_a_taken_username():
    make_driver("alice")
    response = signup()
    assert response.status_code == 400
    assert "username" in response.json()
    assert User.objects.filter(username="alice").count() == 1


def test_token_login_per_contract():
    make_driver("alice")
    response = client_for().post(
        TOKEN, {"username": "alice", "password": "driver-pass-123"}, format="json"
    )
    assert response.status_code == 200
    assert set(response.json()) == {"token"}
    bad = client_for().post(TOKEN, {"username": "alice", "password": "wrong"}, format="json")
    assert bad.status_code == 400
    assert "non_field_errors" in bad.json()


def test_logout_revokes_the_token():
    alice = make_driver("alice")
    client = client_for(alice)
    assert client.get(ME).status_code == 200
    assert client.post(LOGOUT).status_code == 204
    assert not Token.objects.filter(user=alice).exists()
    assert client.get(ME).status_code == 401


def test_logout_needs_a_signed_in_user():
    assert client_for().post(LOGOUT).status_code == 401


def test_me_shows_and_updates_own_profile():
    alice = make_driver("alice")
    client = client_for(alice)
    assert client.get(ME).json() == {
        "id": alice.pk,
        "username": "alice",
        "email": "",
        "first_name": "",
        "last_name": "",
        "phone": "",
        "is_operator": False,
        "driver": alice.driver.pk,
    }
    response = client.patch(
        ME, {"first_name": "Alice", "phone": "+31 6", "username": "eve"}, format="json"
    )
    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.first_name == "Alice"
    assert alice.username == "alice"  # read-only
    assert alice.driver.phone == "+31 6"
    assert client.patch(ME, {"email": "nope"}, format="json").status_code == 400
    assert client.put(ME, {}, format="json").status_code == 405


def test_me_of_an_operator_without_driver_profile():
    operator = make_operator()
    body = client_for(operator).get(ME).json()
    assert body["is_operator"] is True
    assert body["driver"] is None
    assert body["phone"] is None


def test_me_is_401_for_anonymous():
    assert client_for().get(ME).status_code == 401


# --- drivers/ (operators) -------------------------------------------------------

DRIVER_PERMS = ("drivers.view_driver", "drivers.add_driver", "drivers.change_driver")


def test_operator_creates_a_driver_account():
    client = client_for(make_operator(*DRIVER_PERMS))
    response = client.post(
        DRIVERS,
        {"username": "bob", "email": "bob@example.com", "password": "a-long-passphrase-42"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["username"] == "bob"
    assert body["is_active"] is True
    assert "password" not in body
    bob = User.objects.get(username="bob")
    assert bob.check_password("a-long-passphrase-42")
    assert bob.driver.pk == body["id"]


def test_operator_created_driver_without_password_cannot_sign_in():
    client = client_for(make_operator(*DRIVER_PERMS))
    client.post(DRIVERS, {"username": "bob"}, format="json")
    assert not User.objects.get(username="bob").has_usable_password()


def test_operator_deactivates_a_driver_and_cannot_rename():
    alice = make_driver("alice", "ALICE-1")
    client = client_for(make_operator(*DRIVER_PERMS))
    url = f"{DRIVERS}{alice.driver.pk}/"
    assert client.get(url).json()["id_tags"] == ["ALICE-1"]
    assert client.patch(url, {"is_active": False, "phone": "+1"}, format="json").status_code == 200
    alice.refresh_from_db()
    assert alice.is_active is False
    assert alice.driver.phone == "+1"
    renamed = client.patch(url, {"username": "eve"}, format="json")
    assert renamed.status_code == 400
    assert "username" in renamed.json()
    assert client.delete(url).status_code == 405


def test_weak_driver_password_is_refused_by_field():
    client = client_for(make_operator(*DRIVER_PERMS))
    response = client.post(DRIVERS, {"username": "bob", "password": "123"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()
    assert not User.objects.filter(username="bob").exists()


def test_drivers_collection_is_for_operators_only():
    alice = make_driver("alice")
    assert client_for().get(DRIVERS).status_code == 401
    assert client_for(alice).get(DRIVERS).status_code == 403
    assert client_for(alice).get(f"{DRIVERS}{alice.driver.pk}/").status_code == 403
    assert client_for(make_operator()).get(DRIVERS).status_code == 403


def test_driver_filters_and_search():
    make_driver("alice", "ALICE-1")
    bob = make_driver("bob")
    bob.is_active = False
    bob.save()
    client = client_for(make_operator("drivers.view_driver"))

    def names(**params):
        return [row["username"] for row in client.get(DRIVERS, params).json()["results"]]

    assert names(is_active="false") == ["bob"]
    assert names(id_tag="alice-1") == ["alice"]
    assert names(search="bo") == ["bob"]


def test_driver_list_query_count_does_not_grow_with_rows(django_assert_max_num_queries):
    for number in range(10):
        make_driver(f"d{number}", f"TAG-{number}", f"CARD-{number}")
    client = client_for(make_operator("drivers.view_driver"))
    with django_assert_max_num_queries(6):
        response = client.get(DRIVERS)
    assert response.json()["count"] == 10

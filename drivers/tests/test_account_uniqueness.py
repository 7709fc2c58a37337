"""One person, one account: usernames and e-mail addresses are unique ignoring case."""

import pytest
from django.apps import apps as django_apps
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from api_support.testing import client_for, make_driver, make_operator
from drivers.account_indexes import (
    account_case_duplicates,
    account_indexes_after_migrate,
    account_indexes_ensure,
)
from drivers.models import EMAIL_CONSTRAINT, USERNAME_CONSTRAINT, User

pytestmark = pytest.mark.django_db

SIGNUP = "/api/v1/auth/signup/"
PASSWORD = "a-long-passphrase-42"


def signup(client, username, email=""):
    return client.post(
        SIGNUP, {"username": username, "password": PASSWORD, "email": email}, format="json"
    )


def test_signup_refuses_a_username_taken_in_another_case():
    client = client_for()
    assert signup(client, "alice").status_code == 201
    response = signup(client, "ALICE")
    assert response.status_code == 400
    assert "usernames ignore case" in response.json()["username"][0]
    assert User.objects.filter(username__iexact="alice").count() == 1


def test_signup_refuses_an_email_taken_in_another_case():
    client = client_for()
    assert signup(client, "alice", "alice@example.com").status_code == 201
    response = signup(client, "bob", "Alice@Example.COM")
    assert response.status_code == 400
    assert response.json() == {"email": ["An account with this e-mail address exists."]}
    assert not User.objects.filter(username="bob").exists()


def test_accounts_without_an_email_are_many():
    client = client_for()
    assert signup(client, "alice").status_code == 201
    assert signup(client, "bob").status_code == 201


def test_profile_and_operator_edits_keep_emails_unique():
    make_driver("alice").__class__.objects.filter(username="alice").update(email="a@example.com")
    bob = make_driver("bob")
    response = client_for(bob).patch("/api/v1/me/", {"email": "A@example.com"}, format="json")
    assert response.status_code == 400
    assert "email" in response.json()
    operator = client_for(make_operator("drivers.add_driver", "drivers.change_driver"))
    response = operator.post(
        "/api/v1/drivers/", {"username": "carol", "email": "A@EXAMPLE.COM"}, format="json"
    )
    assert response.status_code == 400 and "email" in response.json()
    response = operator.post("/api/v1/drivers/", {"username": "Bob"}, format="json")
    assert response.status_code == 400 and "username" in response.json()


def test_sign_in_ignores_the_username_case():
    make_driver("alice")
    token = client_for().post(
        reverse("api-token"), {"username": "ALICE", "password": "driver-pass-123"}
    )
    assert token.status_code == 200 and "token" in token.json()


def test_lockout_counts_every_spelling_of_a_username(settings):
    make_driver("alice")
    client = client_for()
    url = reverse("api-token")
    spellings = ["alice", "ALICE", "Alice", "aLice", "alIce", "aliCe"]
    for spelling in spellings[: settings.AXES_FAILURE_LIMIT]:
        client.post(url, {"username": spelling, "password": "wrong"})
    response = client.post(url, {"username": "alicE", "password": "driver-pass-123"})
    assert "token" not in response.json()


def test_console_user_form_refuses_a_taken_email(client):
    make_driver("alice").__class__.objects.filter(username="alice").update(email="a@example.com")
    bob = make_driver("bob")
    client.force_login(make_operator(superuser=True))
    response = client.post(
        reverse("admin:drivers_user_change", args=[bob.pk]),
        {
            "username": "bob",
            "email": "A@Example.com",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert b"An account with this e-mail address exists." in response.content


def test_the_database_refuses_duplicates_too():
    User.objects.create(username="alice", email="a@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.bulk_create([User(username="Alice")])
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.bulk_create([User(username="bob", email="A@EXAMPLE.COM")])


def _indexes() -> set[str]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, User._meta.db_table)
    return {name for name in (USERNAME_CONSTRAINT, EMAIL_CONSTRAINT) if name in found}


@pytest.mark.django_db(transaction=True)
def test_an_existing_database_with_duplicates_migrates_and_heals_later():
    """Legacy duplicates block only their index; a later migrate creates it."""
    with connection.schema_editor() as editor:
        for constraint in User._meta.constraints:
            editor.remove_constraint(User, constraint)
    try:
        User.objects.bulk_create(
            [User(username="alice"), User(username="ALICE"), User(username="bob", email="b@x.io")]
        )
        assert account_case_duplicates(model=User, field="username") == [["ALICE", "alice"]]
        with connection.schema_editor() as editor:
            blocked = account_indexes_ensure(model=User, schema_editor=editor)
        assert blocked == {USERNAME_CONSTRAINT: [["ALICE", "alice"]]}
        assert _indexes() == {EMAIL_CONSTRAINT}
        # An ambiguous spelling signs in no one; the exact one still works.
        assert User.objects.get_by_natural_key("alice").username == "alice"
        with pytest.raises(User.DoesNotExist):
            User.objects.get_by_natural_key("Alice")

        User.objects.filter(username="ALICE").update(username="alice2")  # an operator resolves it
        account_indexes_after_migrate(using="default", apps=django_apps)
        assert _indexes() == {USERNAME_CONSTRAINT, EMAIL_CONSTRAINT}
    finally:
        if _indexes() != {USERNAME_CONSTRAINT, EMAIL_CONSTRAINT}:
            User.objects.all().delete()
            with connection.schema_editor() as editor:
                account_indexes_ensure(model=User, schema_editor=editor)

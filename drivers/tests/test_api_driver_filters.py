"""The drivers list's `email` filter: any case, by the accounts' own index."""

import pytest

from api_support.testing import client_for, make_driver, make_operator

pytestmark = pytest.mark.django_db

URL = "/api/v1/drivers/"


@pytest.fixture
def client():
    for username, email in (("ann", "Ann@Example.org"), ("bob", "bob@example.org"), ("cy", "")):
        user = make_driver(username)
        user.email = email
        user.save()
    return client_for(make_operator("drivers.view_driver"))


def usernames(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["username"] for row in response.json()["results"]]


@pytest.mark.parametrize("email", ["ann@example.org", "ANN@EXAMPLE.ORG", "Ann@Example.org"])
def test_an_address_is_found_in_any_case(client, email):
    assert usernames(client.get(URL, {"email": email})) == ["ann"]


def test_a_part_of_an_address_or_an_unknown_one_finds_nobody(client):
    assert usernames(client.get(URL, {"email": "example.org"})) == []
    assert usernames(client.get(URL, {"email": "eve@example.org"})) == []


def test_no_email_filter_lists_everyone(client):
    assert usernames(client.get(URL, {"email": ""})) == ["ann", "bob", "cy"]

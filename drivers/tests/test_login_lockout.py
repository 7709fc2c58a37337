"""Repeated failed logins lock the username out from that address (django-axes)."""

import pytest
from django.urls import reverse

from drivers.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-operator-password"


@pytest.fixture
def operator():
    return User.objects.create_user("operator", password=PASSWORD, is_staff=True, is_superuser=True)


def admin_login(client, password):
    return client.post(
        reverse("admin:login"), {"username": "operator", "password": password, "next": "/admin/"}
    )


def test_admin_login_locks_out_after_repeated_failures(client, operator, settings):
    assert admin_login(client, PASSWORD).status_code == 302  # works at first
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        admin_login(client, "wrong")
    locked = admin_login(client, PASSWORD)
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_api_token_login_locks_out_too(client, operator, settings):
    url = reverse("api-token")
    assert "token" in client.post(url, {"username": "operator", "password": PASSWORD}).json()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert client.post(url, {"username": "operator", "password": "wrong"}).status_code == 400
    response = client.post(url, {"username": "operator", "password": PASSWORD})
    assert response.status_code in (400, 403, 429)
    assert "token" not in response.json()

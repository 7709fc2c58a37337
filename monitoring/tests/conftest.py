"""Fixtures of the monitoring tests."""

from __future__ import annotations

import pytest
from django.test import Client

from monitoring import channel_health, live, nodes

# Charge point sockets through the ASGI app, and a fresh channel layer per test.
from ocpp_consumer.tests.conftest import (  # noqa: F401
    channel_layer,
    charge_point_socket,
    handshake,
)


@pytest.fixture(autouse=True)
def _fresh_process_state():
    """This process's registry identity, watch cache and view of the channel layer start
    fresh in every test (a test of an outage leaves the layer marked down otherwise)."""
    nodes._current = None
    live.forget_watchers()
    channel_health.health.reset()
    yield
    nodes._current = None
    live.forget_watchers()
    channel_health.health.reset()


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="operator", password="pw-operator-1", is_staff=True
    )


@pytest.fixture
def staff_client(staff_user):
    client = Client()
    client.force_login(staff_user)
    return client

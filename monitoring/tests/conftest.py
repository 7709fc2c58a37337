"""Fixtures of the monitoring tests."""

from __future__ import annotations

import pytest
from django.test import Client

from csms_project import testing
from monitoring import channel_health, live, nodes

# Charge point sockets through the ASGI app, and a fresh channel layer per test.
from ocpp_consumer.tests.conftest import (  # noqa: F401
    channel_layer,
    charge_point_socket,
    handshake,
)

from .browser import start_chromium


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


# --- the browser tests' server and Chromium -----------------------------------------------


@pytest.fixture
def server(tmp_path):
    """A Daphne serving the test database; stopped before the database is flushed."""
    env = testing.process_env(CHANNEL_LAYER_PREFIX=f"browser-{tmp_path.name}"[:40])
    with testing.daphne_node(env, tmp_path) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """One headless Chromium for the module's tests."""
    pytest.importorskip("selenium")
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()

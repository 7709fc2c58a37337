"""Fixtures of the device model tests."""

# Charge point sockets through the ASGI app, and a fresh channel layer per test.
from ocpp_consumer.tests.conftest import (  # noqa: F401
    channel_layer,
    charge_point_socket,
    handshake,
)

"""A peer that stops answering WebSocket pings is dropped and marked offline."""

import base64
import os
import socket
import time

import pytest

from csms_project import testing
from stations.models import ChargePoint

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def open_silent_socket(port: int, charge_point_id: str) -> socket.socket:
    """Complete the WebSocket handshake, then never read again (no pongs)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ocpp/{charge_point_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
        ).encode()
    )
    response = sock.recv(4096)
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def test_dead_peer_is_detected_and_marked_offline(tmp_path):
    env = testing.process_env()
    with testing.daphne_node(env, tmp_path, ("--ping-interval", "1", "--ping-timeout", "2")) as url:
        port = int(url.rsplit(":", 1)[1])
        sock = open_silent_socket(port, "SILENT-1")
        try:
            assert testing.wait_until(
                lambda: ChargePoint.objects.filter(
                    charge_point_id="SILENT-1", is_online=True
                ).exists(),
                timeout=10,
            )
            started = time.monotonic()
            testing.wait_until(
                lambda: ChargePoint.objects.filter(
                    charge_point_id="SILENT-1", is_online=False
                ).exists(),
                timeout=20,
            )
            # Dropped by the keep-alive, not by some other timeout.
            assert time.monotonic() - started < 15
        finally:
            sock.close()

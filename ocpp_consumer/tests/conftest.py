"""Fixtures for the OCPP consumer tests: charge point sockets through the ASGI app."""

from __future__ import annotations

import base64
import copy
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlparse

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connections

from csms_project.asgi import application

# Generous: the consumer's ORM calls run in a thread on a file-backed SQLite.
TIMEOUT = 5
OCPP_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
BOOT_PAYLOAD = {"chargePointVendor": "ACME", "chargePointModel": "Wallbox 22"}


def assert_call_error(frame: list, unique_id, code: str) -> str:
    """Assert `frame` is exactly [4, unique_id, code, description, {}]; return the description."""
    assert isinstance(frame, list) and len(frame) == 5, frame
    assert frame[0] == 4, frame
    assert frame[1] == unique_id, frame
    assert frame[2] == code, frame
    assert isinstance(frame[3], str), frame
    assert frame[4] == {}, frame
    return frame[3]


def assert_call_result(frame: list, unique_id) -> dict:
    """Assert `frame` is exactly [3, unique_id, payload]; return the payload."""
    assert isinstance(frame, list) and len(frame) == 3, frame
    assert frame[0] == 3, frame
    assert frame[1] == unique_id, frame
    assert isinstance(frame[2], dict), frame
    return frame[2]


def assert_recent_timestamp(value: str, *, within: float = 10.0) -> datetime:
    """Assert the OCPP timestamp format (ms, Z) and that it is close to now."""
    assert OCPP_TIMESTAMP.match(value), value
    parsed = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - parsed) < timedelta(seconds=within), value
    return parsed


def basic_auth(username: str, password: str) -> list[tuple[bytes, bytes]]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return [(b"authorization", f"Basic {token}".encode("ascii"))]


class OcppCommunicator(WebsocketCommunicator):
    """A charge point's socket; like Daphne, `raw_path` keeps the percent-encoding."""

    def __init__(self, path, *, headers=None, subprotocols=("ocpp1.6",), raw_path=True):
        super().__init__(
            application,
            path,
            headers=list(headers or []),
            subprotocols=list(subprotocols or []),
        )
        if raw_path:
            # The app starts lazily: the scope can still be completed here.
            self.scope["raw_path"] = urlparse(path).path.encode("ascii")

    async def send_text(self, text: str) -> None:
        await self.send_to(text_data=text)

    async def next_frame(self) -> list:
        return await self.receive_json_from(timeout=TIMEOUT)

    async def exchange(self, text: str) -> list:
        """Send a raw text frame and return the parsed answer."""
        await self.send_text(text)
        return await self.next_frame()

    async def call(self, action: str, payload, unique_id: str | None = None) -> list:
        """Send a CALL and return the parsed answer frame."""
        unique_id = unique_id or uuid.uuid4().hex
        return await self.exchange(json.dumps([2, unique_id, action, payload]))

    async def boot(self) -> dict:
        frame = await self.call("BootNotification", BOOT_PAYLOAD, unique_id="boot")
        return assert_call_result(frame, "boot")

    async def assert_usable(self) -> None:
        """The socket still works: a Heartbeat is the very next thing answered."""
        frame = await self.call("Heartbeat", {}, unique_id="still-alive")
        assert_call_result(frame, "still-alive")


@pytest.fixture
async def channel_layer(settings):
    """A fresh channel layer per test; on Redis, under a prefix no one else uses."""
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    if "redis" in layers["default"]["BACKEND"].lower():
        layers["default"].setdefault("CONFIG", {})["prefix"] = f"csms-test-{uuid.uuid4().hex}"
    settings.CHANNEL_LAYERS = layers  # Channels drops its cached layers on this change.
    layer = get_channel_layer()
    yield layer
    await layer.flush()
    if hasattr(layer, "close_pools"):
        await layer.close_pools()
    # The consumer's ORM calls ran on asgiref's shared sync thread: close its
    # connection, or PostgreSQL refuses to drop the test database at the end.
    await sync_to_async(connections.close_all)()


@pytest.fixture
async def handshake(channel_layer):
    """Open a socket: returns (connected, communicator); closed at teardown."""
    opened: list[OcppCommunicator] = []

    async def open_socket(path="/ocpp/CP1", **kwargs):
        communicator = OcppCommunicator(path, **kwargs)
        opened.append(communicator)
        # (True, subprotocol) or (False, close code)
        communicator.handshake_result = await communicator.connect(timeout=TIMEOUT)
        return communicator.handshake_result[0], communicator

    yield open_socket
    for communicator in opened:
        try:
            await communicator.disconnect(timeout=TIMEOUT)
        except Exception:  # already gone: nothing to clean up
            pass


@pytest.fixture
def charge_point_socket(handshake):
    """Connect (and by default boot) a charge point; returns its communicator."""

    async def connect(charge_point_id="CP1", *, boot=True, **kwargs):
        connected, communicator = await handshake(f"/ocpp/{quote(charge_point_id)}", **kwargs)
        assert connected, f"handshake of {charge_point_id!r} refused"
        if boot:
            assert (await communicator.boot())["status"] == "Accepted"
        return communicator

    return connect

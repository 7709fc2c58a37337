"""The system served by uvicorn (`launcher --server uvicorn`): the same handshake answers and frames as under Daphne."""

from __future__ import annotations

import asyncio
import base64
import json
import sys

import pytest
import websockets

from csms_project import testing
from stations.models import ChargePoint

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "uvicorn-password-0123456789"
BOOT = [2, "boot-1", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]


def basic(charge_point_id: str, password: str) -> dict:
    token = base64.b64encode(f"{charge_point_id}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def handshake_status(url: str, **kwargs) -> int:
    try:
        async with websockets.connect(url, **kwargs):
            return 101
    except websockets.exceptions.InvalidStatus as exc:
        return exc.response.status_code


@pytest.fixture
def uvicorn_server(tmp_path):
    port = testing.free_port()
    env = testing.process_env(OCPP_AUTO_REGISTER="0")
    args = [sys.executable, "-m", "csms_project.launcher", "--server", "uvicorn"]
    args += ["--processes", "1", "--host", "127.0.0.1", "--port", str(port)]
    with testing.running(args, env, tmp_path / "uvicorn.log"):
        testing.wait_for_http(f"http://127.0.0.1:{port}/healthz")
        yield f"ws://127.0.0.1:{port}/ocpp/"


def test_handshake_refusals_carry_their_http_status(uvicorn_server):
    charge_point = ChargePoint(charge_point_id="UV-1", security_profile=1)
    charge_point.set_password(PASSWORD)
    charge_point.save()
    ocpp = {"subprotocols": ["ocpp1.6"]}

    async def attempts():
        return [
            await handshake_status(
                uvicorn_server + "UV-1", additional_headers=basic("UV-1", PASSWORD)
            ),
            await handshake_status(
                uvicorn_server + "UV-1",
                additional_headers=basic("UV-1", "wrong-password-123"),
                **ocpp,
            ),
            await handshake_status(uvicorn_server + "NOT-KNOWN", **ocpp),
            await handshake_status(
                uvicorn_server + "UV-1", additional_headers=basic("UV-1", PASSWORD), **ocpp
            ),
        ]

    assert asyncio.run(attempts()) == [400, 401, 404, 101]


def test_frames_are_answered_and_a_bad_one_does_not_close_the_socket(uvicorn_server):
    ChargePoint.objects.create(charge_point_id="UV-2")

    async def session():
        async with websockets.connect(uvicorn_server + "UV-2", subprotocols=["ocpp1.6"]) as ws:
            assert ws.subprotocol == "ocpp1.6"
            await ws.send(json.dumps(BOOT))
            boot = json.loads(await ws.recv())
            await ws.send(json.dumps([2, "bad-1", "Heartbeat"]))
            bad = json.loads(await ws.recv())
            await ws.send(json.dumps([2, "hb-1", "Heartbeat", {}]))
            heartbeat = json.loads(await ws.recv())
            return boot, bad, heartbeat

    boot, bad, heartbeat = asyncio.run(asyncio.wait_for(session(), 30))
    assert boot[:2] == [3, "boot-1"] and boot[2]["status"] == "Accepted"
    assert bad[:3] == [4, "bad-1", "ProtocolError"]
    assert heartbeat[:2] == [3, "hb-1"] and heartbeat[2]["currentTime"].endswith("Z")
    assert ChargePoint.objects.get(charge_point_id="UV-2").last_boot_at is not None

"""PostgreSQL unreachable: handshakes are refused with 503 and CALLs get a CALLERROR, quickly.

A real Daphne process reaches the database through a proxy that the test
cuts off (csms_project.db_proxy); the shared PostgreSQL runs on. The
connected charge point keeps its socket through the outage and is served
again once the database is back.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from datetime import UTC, datetime

import pytest
import websockets
from django.conf import settings
from websockets.exceptions import InvalidStatus

from csms_project import testing
from csms_project.db_proxy import database_proxy

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "postgresql" not in settings.DATABASES["default"]["ENGINE"],
        reason="plays a PostgreSQL outage (DATABASE_URL=postgres://...)",
    ),
]

# The settings that bound every wait (the defaults are 3 s and 5 s).
CONNECT_TIMEOUT = 2
POOL_TIMEOUT = 3.0
# What "quickly" means here: well below the half minute of the old defaults.
QUICK = 8.0
_ids = itertools.count()


def ocpp_url(base_url: str, charge_point_id: str) -> str:
    return f"{base_url.replace('http', 'ws')}/ocpp/{charge_point_id}"


async def call(ws, action: str, payload: dict) -> tuple[list, float]:
    """Send a CALL; return the answer frame and how long it took."""
    unique_id = f"{action}-{next(_ids)}"
    started = time.monotonic()
    await ws.send(json.dumps([2, unique_id, action, payload]))
    frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
    assert frame[1] == unique_id, frame
    return frame, time.monotonic() - started


def start_transaction() -> dict:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"connectorId": 1, "idTag": "OUTAGE-TAG", "meterStart": 0, "timestamp": now}


async def handshake_status(base_url: str, charge_point_id: str) -> tuple[int, float]:
    """The HTTP status of a handshake (101 when accepted) and how long it took."""
    started = time.monotonic()
    try:
        async with websockets.connect(
            ocpp_url(base_url, charge_point_id), subprotocols=["ocpp1.6"], open_timeout=30
        ):
            return 101, time.monotonic() - started
    except InvalidStatus as exc:
        return exc.response.status_code, time.monotonic() - started


def test_a_database_outage_degrades_and_never_disconnects(tmp_path):
    with database_proxy() as proxy:
        env = testing.process_env(
            DATABASE_URL=proxy.url,
            DATABASE_CONNECT_TIMEOUT=str(CONNECT_TIMEOUT),
            DATABASE_POOL_TIMEOUT=str(POOL_TIMEOUT),
        )
        env.pop("REDIS_URL", None)  # one process: the in-process channel layer
        with testing.daphne_node(env, tmp_path) as base_url:

            async def scenario() -> dict:
                seen: dict = {}
                async with websockets.connect(
                    ocpp_url(base_url, "OUTAGE-1"), subprotocols=["ocpp1.6"]
                ) as ws:
                    boot, _ = await call(
                        ws, "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}
                    )
                    assert boot[0] == 3 and boot[2]["status"] == "Accepted", boot

                    await asyncio.to_thread(proxy.outage)
                    seen["handshake"] = await handshake_status(base_url, "OUTAGE-2")
                    seen["start"] = await call(ws, "StartTransaction", start_transaction())
                    seen["status"] = await call(
                        ws,
                        "StatusNotification",
                        {"connectorId": 1, "status": "Charging", "errorCode": "NoError"},
                    )
                    seen["heartbeat"] = await call(ws, "Heartbeat", {})
                    # By now the pool holds no connection: this one waits for it.
                    seen["handshake_late"] = await handshake_status(base_url, "OUTAGE-3")

                    await asyncio.to_thread(proxy.restore)
                    deadline = time.monotonic() + 30
                    while True:  # the pool reconnects within seconds
                        frame, _ = await call(ws, "StartTransaction", start_transaction())
                        if frame[0] == 3 or time.monotonic() > deadline:
                            break
                        await asyncio.sleep(0.5)
                    seen["start_after"] = frame
                    seen["handshake_after"] = await handshake_status(base_url, "OUTAGE-2")
                return seen

            seen = asyncio.run(scenario())

    for name in ("handshake", "handshake_late"):
        status, took = seen[name]
        assert status == 503 and took < QUICK, (name, seen[name])
    for name in ("start", "status"):
        frame, took = seen[name]
        assert frame[0] == 4 and frame[2] == "InternalError", (name, frame)
        assert took < QUICK, (name, took)
    heartbeat, took = seen["heartbeat"]  # answered from memory, or refused: quickly either way
    assert heartbeat[0] in (3, 4) and took < QUICK, seen["heartbeat"]
    # The same socket, served again once the database is back.
    assert seen["start_after"][0] == 3, seen["start_after"]
    assert "transactionId" in seen["start_after"][2]
    assert seen["handshake_after"][0] == 101

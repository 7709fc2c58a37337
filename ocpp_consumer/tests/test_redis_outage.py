"""Charging goes on through a Redis outage: real Daphne on a private Redis that is stopped.

Two charge points are connected through a real Daphne process whose channel
layer is a redis-server of this test alone. The redis-server is stopped for
about 20 s and started again on the same port, while the charge points keep
talking: their sockets stay open, every CALL is answered and persisted, a
new charge point can connect, API commands answer a JSON 503 with
Retry-After (and 200 again within seconds once Redis is back, Daphne never
restarted), and the live dashboard says its updates are paused, then live.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
import uuid

import pytest
import websockets
from django.conf import settings
from django.test import Client
from ocpp.routing import on
from ocpp.v16 import ChargePoint as OcppClient
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus, ResetStatus

from csms_project import testing
from drivers.models import IdTag, User
from ocpp_consumer.commands.records import UNROUTABLE
from ocpp_consumer.models import Command, CommandStatus
from stations.models import ChargePoint, MeterValue, Transaction

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

OUTAGE_SECONDS = 20
RECOVERY_SECONDS = 10
TAG = "OUTAGE-TAG"


class SimulatedChargePoint(OcppClient):
    """Answers Reset with Accepted."""

    @on(Action.reset)
    def on_reset(self, type, **kwargs):  # noqa: A002 - the OCPP field is named "type"
        return call_result.Reset(status=ResetStatus.accepted)


class Station:
    """One charge point's socket, its OCPP client, and the task reading its frames."""

    def __init__(self, ws, client, listener):
        self.ws, self.client, self.listener = ws, client, listener

    @classmethod
    async def connect(cls, base_url: str, charge_point_id: str) -> Station:
        ws = await websockets.connect(
            f"{base_url.replace('http', 'ws')}/ocpp/{charge_point_id}", subprotocols=["ocpp1.6"]
        )
        client = SimulatedChargePoint(charge_point_id, ws, response_timeout=10)
        station = cls(ws, client, asyncio.create_task(client.start()))
        boot = await client.call(
            call.BootNotification(charge_point_vendor="V", charge_point_model="M")
        )
        assert boot.status == RegistrationStatus.accepted
        return station

    @property
    def is_open(self) -> bool:
        return self.ws.state.name == "OPEN"

    async def close(self) -> None:
        self.listener.cancel()
        await self.ws.close()


class Api:
    """An operator's token calls to the command endpoint."""

    def __init__(self, base_url: str, token: str):
        self.base_url, self.token = base_url, token

    def reset(self, charge_point_id: str, idempotency_key: str | None = None):
        headers = {"Authorization": f"Token {self.token}", "Content-Type": "application/json"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        request = urllib.request.Request(
            f"{self.base_url}/api/v1/charge-points/{charge_point_id}/commands/reset/",
            data=json.dumps({"type": "Soft"}).encode(),
            headers=headers,
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), json.loads(error.read())


async def next_live_state(dashboard) -> str:
    """The dashboard's next {"type": "live"} notice (snapshots and pushes skipped)."""
    while True:
        message = json.loads(await asyncio.wait_for(dashboard.recv(), 15))
        if message["type"] == "live":
            return message["state"]


async def charge_during_outage(station: Station, meter_start: int) -> int:
    """Heartbeat, start, meter values, stop: every CALL answered."""
    client = station.client
    await client.call(call.Heartbeat())
    started = await client.call(
        call.StartTransaction(connector_id=1, id_tag=TAG, meter_start=meter_start, timestamp=_now())
    )
    assert started.id_tag_info["status"] == AuthorizationStatus.accepted
    await client.call(
        call.MeterValues(
            connector_id=1,
            transaction_id=started.transaction_id,
            meter_value=[
                {
                    "timestamp": _now(),
                    "sampledValue": [{"value": str(meter_start + 1500)}],
                }
            ],
        )
    )
    await client.call(
        call.StopTransaction(
            meter_stop=meter_start + 3000, timestamp=_now(), transaction_id=started.transaction_id
        )
    )
    return started.transaction_id


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


async def scenario(base_url: str, redis, api: Api, cookie: str) -> dict:
    seen: dict = {}
    cp_a = await Station.connect(base_url, "OUTAGE-A")
    cp_b = await Station.connect(base_url, "OUTAGE-B")
    dashboard = await websockets.connect(
        base_url.replace("http", "ws") + "/ws/dashboard/",
        additional_headers=[("Cookie", cookie)],
        origin=base_url,
    )
    assert json.loads(await dashboard.recv())["type"] == "snapshot"
    status, _, _ = await asyncio.to_thread(api.reset, "OUTAGE-A")
    assert status == 200  # commands are routed while Redis is up

    redis.stop()
    stopped_at = time.monotonic()
    try:
        seen["dashboard_during"] = await next_live_state(dashboard)
        seen["transactions"] = [
            await charge_during_outage(cp_a, 10_000),
            await charge_during_outage(cp_b, 20_000),
        ]
        seen["command_during"] = await asyncio.to_thread(api.reset, "OUTAGE-A", "key-1")
        seen["command_repeated"] = await asyncio.to_thread(api.reset, "OUTAGE-A", "key-1")
        cp_c = await Station.connect(base_url, "OUTAGE-C")  # a new handshake
        while time.monotonic() - stopped_at < OUTAGE_SECONDS:  # traffic goes on
            await cp_a.client.call(call.Heartbeat())
            await cp_b.client.call(call.Heartbeat())
            await cp_c.client.call(call.Heartbeat())
            await asyncio.sleep(2)
        seen["open_during"] = [cp_a.is_open, cp_b.is_open, cp_c.is_open, dashboard.state.name]
    finally:
        redis.start()
    started_at = time.monotonic()

    # Back within seconds: the same Idempotency-Key now runs the command.
    while True:
        answer = await asyncio.to_thread(api.reset, "OUTAGE-A", "key-1")
        if answer[0] != 503 or time.monotonic() - started_at > RECOVERY_SECONDS:
            break
        await asyncio.sleep(0.5)
    seen["command_after"], seen["recovered_in"] = answer, time.monotonic() - started_at
    seen["command_after_b"] = await asyncio.to_thread(api.reset, "OUTAGE-B")
    seen["dashboard_after"] = await next_live_state(dashboard)

    # The socket that connected during the outage joined its group since:
    # a newer socket of the same id replaces it.
    await asyncio.sleep(2)
    newer_c = await Station.connect(base_url, "OUTAGE-C")
    await asyncio.wait_for(cp_c.ws.wait_closed(), 10)
    seen["replaced_code"] = cp_c.ws.close_code
    seen["open_after"] = [cp_a.is_open, cp_b.is_open, newer_c.is_open]
    # The replaced socket's disconnect must not take the newer one offline.
    await asyncio.sleep(0.5)
    seen["c_online_with_newer_socket"] = await asyncio.to_thread(
        lambda: ChargePoint.objects.get(charge_point_id="OUTAGE-C").is_online
    )
    for station in (cp_a, cp_b, cp_c, newer_c):
        await station.close()
    await dashboard.close()
    return seen


def test_charging_and_commands_through_a_redis_outage(tmp_path):
    IdTag.objects.create(id_tag=TAG)
    operator = User.objects.create_user("ops", password="x" * 20, is_staff=True, is_superuser=True)
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=operator).key
    client = Client()
    client.force_login(operator)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"

    with testing.private_redis(tmp_path) as redis:
        env = testing.process_env(
            REDIS_URL=redis.url, CHANNEL_LAYER_PREFIX=f"outage-{uuid.uuid4().hex[:8]}"
        )
        with testing.daphne_node(env, tmp_path) as base_url:
            seen = asyncio.run(scenario(base_url, redis, Api(base_url, token), cookie))
            log = next(tmp_path.glob("daphne-*.log")).read_text()

    # Sockets stayed open, the dashboard too, and said it was degraded.
    assert seen["open_during"] == [True, True, True, "OPEN"]
    assert seen["dashboard_during"] == "degraded"
    # Every session of the outage is stored, metered and ended.
    for pk, meter_start in zip(seen["transactions"], (10_000, 20_000), strict=True):
        session = Transaction.objects.get(pk=pk)
        assert (session.meter_start, session.meter_stop) == (meter_start, meter_start + 3000)
        assert MeterValue.objects.filter(transaction=session).exists()
    assert seen["c_online_with_newer_socket"]

    # Commands: a JSON 503 with Retry-After, the record failed, the key free again.
    status, headers, body = seen["command_during"]
    assert status == 503
    assert headers["Retry-After"] == "5"
    assert headers["Content-Type"].startswith("application/json")
    assert "channel layer" in body["detail"]
    assert seen["command_repeated"][0] == 503  # not a stored replay
    assert "Idempotent-Replayed" not in seen["command_repeated"][1]
    failed = Command.objects.filter(status=CommandStatus.FAILED, error_code=UNROUTABLE)
    assert failed.count() == 2
    status, headers, body = seen["command_after"]
    assert (status, body["status"]) == (200, "Accepted"), (status, body)
    assert "Idempotent-Replayed" not in headers
    assert seen["recovered_in"] < RECOVERY_SECONDS
    assert seen["command_after_b"][0] == 200

    # Recovered without a restart: live dashboard, groups joined again.
    assert seen["dashboard_after"] == "live"
    assert seen["replaced_code"] == 4001
    assert seen["open_after"] == [True, True, True]
    assert log.count("channel layer unreachable") == 1  # one warning per outage
    assert "channel layer reachable again" in log
    assert "Traceback" not in log

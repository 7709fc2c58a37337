"""The drivers' live channel end to end: real Daphne, Celery worker, charger and app.

A driver's app (the `websockets` client) follows /ws/driver/ with its API
token while it remote-starts a session through the REST API on a simulated
charger (the `ocpp` package's 1.6 and 2.0.1 clients); the Celery worker
issues the invoice. Another driver on the same channel hears nothing of it,
and a wrong token is closed with 4401. Without REDIS_URL the invoice, issued
by the worker, reaches the app through the server's poller; with it, as a push.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import websockets
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as Charger16
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action, ChargePointErrorCode, ChargePointStatus, RemoteStartStopStatus
from ocpp.v201 import ChargePoint as Station201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from rest_framework.authtoken.models import Token

from api_support.testing import make_driver
from billing.models import Tariff
from csms_project import testing
from stations.models import ChargePoint as ChargePointModel

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TIMEOUT = 20
SESSION_TYPES = {"session.started", "session.updated", "session.stopped", "invoice.issued"}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def prepare(charge_point_id: str) -> dict:
    Tariff.objects.create(
        name="E2E live",
        currency="EUR",
        price_per_kwh=Decimal("0.4000"),
        vat_rate=Decimal("20"),
        is_default=True,
        priority=10,
    )
    alice = make_driver("alice", "LIVE-ALICE")
    bob = make_driver("bob", "LIVE-BOB")
    registered = ChargePointModel.objects.create(
        charge_point_id=charge_point_id, registration_status="Accepted"
    )
    ChargePointModel.objects.filter(pk=registered.pk).update(
        created_at=datetime.now(UTC) - timedelta(days=1)
    )
    return {
        "alice": Token.objects.create(user=alice).key,
        "bob": Token.objects.create(user=bob).key,
    }


def api_post(base_url: str, path: str, token: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{base_url}{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


class App:
    """A driver's app on the live channel: every message it got, by arrival."""

    def __init__(self, ws):
        self.ws, self.messages = ws, []

    @classmethod
    async def open(cls, live_url: str, token: str, *, in_query: bool = False):
        if in_query:
            ws = await websockets.connect(f"{live_url}?token={token}")
        else:
            ws = await websockets.connect(
                live_url, additional_headers={"Authorization": f"Token {token}"}
            )
        return cls(ws)

    async def next(self, kind: str, timeout: float = TIMEOUT, **having) -> dict:
        """The next message of this type with these values (`energy_wh__not=None`: not None)."""

        def matches(message: dict) -> bool:
            for name, value in having.items():
                field, _, negated = name.partition("__")
                if (message.get(field) == value) == bool(negated):
                    return False
            return message["type"] == kind

        async with asyncio.timeout(timeout):
            while True:
                message = json.loads(await self.ws.recv())
                self.messages.append(message)
                if matches(message):
                    return message

    async def drain(self, seconds: float) -> list[dict]:
        try:
            async with asyncio.timeout(seconds):
                while True:
                    self.messages.append(json.loads(await self.ws.recv()))
        except TimeoutError:
            pass
        return self.messages


async def refused_code(live_url: str, **connect) -> int:
    async with websockets.connect(live_url, **connect) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    return closed.value.rcvd.code


# --- OCPP 1.6 ------------------------------------------------------------------------------


class Charger(Charger16):
    """Accepts a remote start, then starts the session with the tag it was given."""

    started: asyncio.Future

    @on(Action.remote_start_transaction)
    def on_remote_start(self, id_tag, connector_id=None, **kwargs):
        return call_result.RemoteStartTransaction(status=RemoteStartStopStatus.accepted)

    @after(Action.remote_start_transaction)
    async def begin(self, id_tag, connector_id=None, **kwargs):
        answer = await self.call(
            call.StartTransaction(
                connector_id=connector_id or 1,
                id_tag=id_tag,
                meter_start=10_000,
                timestamp=_iso(datetime.now(UTC) - timedelta(minutes=30)),
            )
        )
        self.started.set_result(answer.transaction_id)


async def session_16(base_url: str, tokens: dict) -> dict:
    ws_base = base_url.replace("http://", "ws://")
    live_url = f"{ws_base}/ws/driver/"
    seen = {
        "refused": await refused_code(live_url, additional_headers={"Authorization": "Token nope"})
    }
    alice = await App.open(live_url, tokens["alice"])
    bob = await App.open(live_url, tokens["bob"], in_query=True)
    seen["snapshots"] = [await alice.next("session.snapshot"), await bob.next("session.snapshot")]

    async with websockets.connect(f"{ws_base}/ocpp/E2E-LIVE-16", subprotocols=["ocpp1.6"]) as cp_ws:
        charger = Charger("E2E-LIVE-16", cp_ws, response_timeout=15)
        charger.started = asyncio.get_running_loop().create_future()
        listener = asyncio.create_task(charger.start())
        try:
            await charger.call(
                call.BootNotification(charge_point_vendor="E2E", charge_point_model="Live")
            )
            await charger.call(
                call.StatusNotification(
                    connector_id=1,
                    error_code=ChargePointErrorCode.no_error,
                    status=ChargePointStatus.available,
                )
            )
            seen["command"] = await asyncio.to_thread(
                api_post,
                base_url,
                "/api/v1/charge-points/E2E-LIVE-16/commands/remote-start-transaction/",
                tokens["alice"],
                {"connector_id": 1, "id_tag": "LIVE-ALICE"},
            )
            tx = seen["transaction"] = await asyncio.wait_for(charger.started, TIMEOUT)
            seen["started"] = await alice.next("session.started")
            at = datetime.now(UTC) - timedelta(minutes=15)
            await charger.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=tx,
                    meter_value=[
                        {
                            "timestamp": _iso(at),
                            "sampledValue": [
                                {"value": "12.5", "unit": "kWh"},
                                {"value": "7400", "measurand": "Power.Active.Import", "unit": "W"},
                            ],
                        }
                    ],
                )
            )
            seen["updated"] = await alice.next("session.updated", energy_wh__not=None)
            await charger.call(
                call.StopTransaction(
                    meter_stop=17_500,
                    timestamp=_iso(datetime.now(UTC)),
                    transaction_id=tx,
                    reason="EVDisconnected",
                )
            )
            seen["stopped"] = await alice.next("session.stopped")
            seen["invoice"] = await alice.next("invoice.issued", timeout=60)
        finally:
            listener.cancel()
    seen["bob"] = await bob.drain(2.0)
    for app in (alice, bob):
        await app.ws.close()
    return seen


def test_a_driver_follows_a_remote_started_1_6_session_live(tmp_path):
    tokens = prepare("E2E-LIVE-16")
    env = testing.process_env(DRIVER_LIVE_UPDATE_SECONDS="1", DRIVER_LIVE_KEEPALIVE_SECONDS="1")
    with testing.daphne_node(env, tmp_path) as base_url, testing.celery_worker(env, tmp_path):
        seen = asyncio.run(session_16(base_url, tokens))

    assert seen["refused"] == 4401
    assert [snapshot["sessions"] for snapshot in seen["snapshots"]] == [[], []]
    tx = seen["transaction"]
    started = seen["started"]
    assert (started["transaction"], started["charge_point"], started["connector_id"]) == (
        tx,
        "E2E-LIVE-16",
        1,
    )
    assert started["id_tag"] == "LIVE-ALICE"
    if "command_id" in seen["command"]:  # remote starts answer with the command's id
        assert started["command_id"] == seen["command"]["command_id"]
    updated = seen["updated"]
    assert (updated["transaction"], updated["energy_wh"], updated["power_w"]) == (tx, 2_500, 7_400)
    assert (updated["cost_so_far"], updated["currency"]) == ("1.20", "EUR")
    stopped = seen["stopped"]
    assert (stopped["transaction"], stopped["energy_wh"], stopped["stop_reason"]) == (
        tx,
        7_500,
        "EVDisconnected",
    )
    assert (stopped["cost"], stopped["currency"]) == ("3.60", "EUR")
    invoice = seen["invoice"]
    assert (invoice["transaction"], invoice["total"], invoice["currency"]) == (tx, "3.60", "EUR")
    assert invoice["pdf_url"].endswith(f"/api/v1/invoices/{invoice['invoice']}/pdf/")
    assert invoice["pdf_url"].startswith("http://127.0.0.1:")
    # The other driver, on the same channel, heard nothing of it (its snapshot, keep-alives).
    assert {message["type"] for message in seen["bob"]} <= {"session.snapshot", "keepalive"}
    assert "keepalive" in {message["type"] for message in seen["bob"]}
    assert not any(message["type"] in SESSION_TYPES for message in seen["bob"])


# --- OCPP 2.0.1 ------------------------------------------------------------------------


class Station(Station201):
    """Accepts a RequestStartTransaction and starts the session it asks for."""

    started: asyncio.Future

    @on("RequestStartTransaction")
    def on_request_start(self, id_token, remote_start_id, evse_id=None, **kwargs):
        return result201.RequestStartTransaction(status="Accepted")

    @after("RequestStartTransaction")
    async def begin(self, id_token, remote_start_id, evse_id=None, **kwargs):
        at = datetime.now(UTC) - timedelta(minutes=30)
        await self.call(
            call201.TransactionEvent(
                event_type="Started",
                timestamp=_iso(at),
                trigger_reason="RemoteStart",
                seq_no=0,
                transaction_info={"transaction_id": "live-201", "remote_start_id": remote_start_id},
                id_token=id_token,
                evse={"id": evse_id or 1, "connector_id": 1},
                meter_value=[
                    {
                        "timestamp": _iso(at),
                        "sampled_value": [
                            {
                                "value": 10.0,
                                "context": "Transaction.Begin",
                                "unit_of_measure": {"unit": "kWh"},
                            }
                        ],
                    }
                ],
            )
        )
        self.started.set_result(True)


def _event_201(
    seq_no: int, event_type: str, at: datetime, kwh: float, power_w: float | None
) -> call201.TransactionEvent:
    sampled = [{"value": kwh, "unit_of_measure": {"unit": "kWh"}}]
    if power_w is not None:
        sampled.append(
            {"value": power_w, "measurand": "Power.Active.Import", "unit_of_measure": {"unit": "W"}}
        )
    info = {"transaction_id": "live-201"}
    if event_type == "Ended":
        info["stopped_reason"] = "EVDisconnected"
    return call201.TransactionEvent(
        event_type=event_type,
        timestamp=_iso(at),
        trigger_reason="MeterValuePeriodic" if event_type == "Updated" else "EVCommunicationLost",
        seq_no=seq_no,
        transaction_info=info,
        meter_value=[{"timestamp": _iso(at), "sampled_value": sampled}],
    )


async def session_201(base_url: str, tokens: dict) -> dict:
    ws_base = base_url.replace("http://", "ws://")
    live_url = f"{ws_base}/ws/driver/"
    alice = await App.open(live_url, tokens["alice"])
    bob = await App.open(live_url, tokens["bob"])
    await alice.next("session.snapshot")
    await bob.next("session.snapshot")
    seen = {}
    async with websockets.connect(
        f"{ws_base}/ocpp/E2E-LIVE-201", subprotocols=["ocpp2.0.1"]
    ) as cs_ws:
        station = Station("E2E-LIVE-201", cs_ws, response_timeout=15)
        station.started = asyncio.get_running_loop().create_future()
        listener = asyncio.create_task(station.start())
        try:
            await station.call(
                call201.BootNotification(
                    charging_station={"vendor_name": "E2E", "model": "Live 201"}, reason="PowerUp"
                )
            )
            await station.call(
                call201.StatusNotification(
                    timestamp=_iso(datetime.now(UTC)),
                    connector_status="Available",
                    evse_id=1,
                    connector_id=1,
                )
            )
            seen["command"] = await asyncio.to_thread(
                api_post,
                base_url,
                "/api/v1/charge-points/E2E-LIVE-201/commands/request-start-transaction/",
                tokens["alice"],
                {"evse_id": 1, "id_token": {"id_token": "LIVE-ALICE", "type": "Central"}},
            )
            await asyncio.wait_for(station.started, TIMEOUT)
            seen["started"] = await alice.next("session.started")
            now = datetime.now(UTC)
            await station.call(_event_201(1, "Updated", now - timedelta(minutes=15), 12.5, 7400))
            seen["updated"] = await alice.next("session.updated", energy_wh__not=None)
            await station.call(_event_201(2, "Ended", now, 17.5, None))
            seen["stopped"] = await alice.next("session.stopped")
            seen["invoice"] = await alice.next("invoice.issued", timeout=60)
        finally:
            listener.cancel()
    seen["bob"] = await bob.drain(2.0)
    for app in (alice, bob):
        await app.ws.close()
    return seen


def test_a_driver_follows_a_2_0_1_session_live(tmp_path):
    tokens = prepare("E2E-LIVE-201")
    env = testing.process_env(DRIVER_LIVE_UPDATE_SECONDS="1")
    with testing.daphne_node(env, tmp_path) as base_url, testing.celery_worker(env, tmp_path):
        seen = asyncio.run(session_201(base_url, tokens))

    started = seen["started"]
    assert (started["ocpp_transaction_id"], started["charge_point"]) == ("live-201", "E2E-LIVE-201")
    if "command_id" in seen["command"]:
        assert started["command_id"] == seen["command"]["command_id"]
    tx = started["transaction"]
    updated = seen["updated"]
    assert (updated["transaction"], updated["energy_wh"], updated["power_w"]) == (tx, 2_500, 7_400)
    assert updated["cost_so_far"] == "1.20"
    stopped = seen["stopped"]
    assert (stopped["transaction"], stopped["energy_wh"], stopped["cost"]) == (tx, 7_500, "3.60")
    assert (seen["invoice"]["transaction"], seen["invoice"]["total"]) == (tx, "3.60")
    assert not any(message["type"] in SESSION_TYPES for message in seen["bob"])


# --- pushes across processes -----------------------------------------------------------------


async def pushed_session(base_url: str, tokens: dict) -> dict:
    """A card start and stop on a 1.6 charger; the poller is off: pushes only."""
    ws_base = base_url.replace("http://", "ws://")
    alice = await App.open(f"{ws_base}/ws/driver/", tokens["alice"])
    await alice.next("session.snapshot")
    seen = {}
    async with websockets.connect(
        f"{ws_base}/ocpp/E2E-LIVE-PUSH", subprotocols=["ocpp1.6"]
    ) as cp_ws:
        charger = Charger16("E2E-LIVE-PUSH", cp_ws, response_timeout=15)
        listener = asyncio.create_task(charger.start())
        try:
            await charger.call(
                call.BootNotification(charge_point_vendor="E2E", charge_point_model="Push")
            )
            start = datetime.now(UTC) - timedelta(minutes=30)
            started = await charger.call(
                call.StartTransaction(
                    connector_id=1, id_tag="live-alice", meter_start=10_000, timestamp=_iso(start)
                )
            )
            seen["transaction"] = started.transaction_id
            seen["started"] = await alice.next("session.started")
            await charger.call(
                call.StopTransaction(
                    meter_stop=17_500,
                    timestamp=_iso(datetime.now(UTC)),
                    transaction_id=started.transaction_id,
                    reason="Local",
                )
            )
            seen["stopped"] = await alice.next("session.stopped")
            # Issued by the Celery worker, another process: through Redis.
            seen["invoice"] = await alice.next("invoice.issued", timeout=60)
        finally:
            listener.cancel()
    await alice.ws.close()
    return seen


@pytest.mark.e2e
def test_pushes_reach_the_app_from_other_processes_over_redis(tmp_path):
    tokens = prepare("E2E-LIVE-PUSH")
    with testing.private_redis(tmp_path) as redis_server:
        env = testing.process_env(
            REDIS_URL=redis_server.url,
            CELERY_BROKER_URL=redis_server.url,
            CHANNEL_LAYER_PREFIX="live-push",
            DRIVER_LIVE_UPDATE_SECONDS="3600",
        )
        with testing.daphne_node(env, tmp_path) as base_url, testing.celery_worker(env, tmp_path):
            seen = asyncio.run(pushed_session(base_url, tokens))

    tx = seen["transaction"]
    assert (seen["started"]["transaction"], seen["started"]["command_id"]) == (tx, None)
    assert (seen["stopped"]["transaction"], seen["stopped"]["energy_wh"]) == (tx, 7_500)
    assert (seen["invoice"]["transaction"], seen["invoice"]["total"]) == (tx, "3.60")

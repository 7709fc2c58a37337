"""/ws/driver/: token authentication, a driver's own sessions only, pushes and the poller."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token

from api_support.testing import make_charge_point, make_driver, make_operator
from billing.models import Tariff
from billing.services import invoice_create, transaction_start_priced
from csms_project.asgi import application
from drivers.models import User
from monitoring.driver_live import consumer as live_consumer
from monitoring.driver_live import push
from monitoring.driver_live.watchers import registry
from stations.services.meter_values import MeterSample, metervalues_record
from stations.services.transactions import transaction_stop

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 5


def in_worker_thread(func):
    """As the OCPP consumer runs a service: a pool thread, its connection closed after."""

    def run(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        finally:
            connection.close()

    return sync_to_async(run, thread_sensitive=False)


@pytest.fixture(autouse=True)
def _live_settings(settings):
    registry.reset()
    settings.DRIVER_LIVE_UPDATE_SECONDS = 60  # the poller stays out unless a test wants it
    settings.DRIVER_LIVE_KEEPALIVE_SECONDS = 0
    settings.CSMS_PUBLIC_URL = ""
    yield
    registry.reset()


def _world():
    Tariff.objects.create(
        name="Live",
        currency="EUR",
        price_per_kwh=Decimal("0.4000"),
        vat_rate=Decimal("20"),
        is_default=True,
        priority=10,
    )
    alice = make_driver("alice", "ALICE-TAG")
    bob = make_driver("bob", "BOB-TAG")
    charge_point = make_charge_point("CP-LIVE", connectors={1: "Available", 2: "Available"})
    # Accepted, and registered well before the sessions it reports (else they are disputed).
    type(charge_point).objects.filter(pk=charge_point.pk).update(
        registration_status="Accepted", created_at=timezone.now() - timedelta(days=1)
    )
    return {
        "alice": Token.objects.create(user=alice).key,
        "bob": Token.objects.create(user=bob).key,
        "cp": charge_point.pk,
    }


@pytest.fixture
async def world(channel_layer):
    return await sync_to_async(_world)()


async def open_live(token: str | None = None, *, query: str = "", header: bool = True):
    headers = [(b"host", b"testserver")]
    if token and header:
        headers.append((b"authorization", f"Token {token}".encode()))
    path = "/ws/driver/" + (f"?{query}" if query else "")
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected  # accepted, then closed when refused: the close code says why
    return communicator


async def closed_with(communicator) -> int:
    output = await communicator.receive_output(timeout=TIMEOUT)
    assert output["type"] == "websocket.close", output
    return output["code"]


async def start(world, id_tag: str, *, connector_id: int = 1, minutes_ago: int = 10):
    session, _ = await in_worker_thread(transaction_start_priced)(
        charge_point_pk=world["cp"],
        connector_id=connector_id,
        id_tag=id_tag,
        meter_start=10_000,
        timestamp=timezone.now() - timedelta(minutes=minutes_ago),
    )
    return session.pk


def sample(value: str, measurand: str, unit: str, at) -> MeterSample:
    return MeterSample(
        timestamp=at,
        value=value,
        measurand=measurand,
        unit=unit,
        context="Sample.Periodic",
        location="Outlet",
        value_format="Raw",
    )


# --- who may open it -------------------------------------------------------------------


async def test_no_token_or_a_wrong_one_is_closed_with_4401(world):
    assert await closed_with(await open_live()) == live_consumer.CLOSE_UNAUTHENTICATED
    assert await closed_with(await open_live("f" * 40)) == live_consumer.CLOSE_UNAUTHENTICATED
    wrong = await open_live(query="token=" + "0" * 40)
    assert await closed_with(wrong) == live_consumer.CLOSE_UNAUTHENTICATED


async def test_a_token_in_the_header_or_the_query_opens_it_with_a_snapshot(world):
    for socket in (
        await open_live(world["alice"]),
        await open_live(world["alice"], query=f"token={world['alice']}", header=False),
    ):
        snapshot = await socket.receive_json_from(timeout=TIMEOUT)
        assert snapshot == {
            "type": "session.snapshot",
            "scope": "own",
            "sessions": [],
            "truncated": False,
        }
        await socket.disconnect()


async def test_any_origin_is_welcome(world):
    headers = [
        (b"authorization", f"Token {world['alice']}".encode()),
        (b"origin", b"https://elsewhere.example"),
    ]
    socket = WebsocketCommunicator(application, "/ws/driver/", headers=headers)
    assert (await socket.connect(timeout=TIMEOUT))[0]
    assert (await socket.receive_json_from(timeout=TIMEOUT))["type"] == "session.snapshot"
    await socket.disconnect()


async def test_every_session_is_for_operators_with_the_permission_only(world):
    driver = await open_live(world["bob"], query="all=1")
    assert await closed_with(driver) == live_consumer.CLOSE_FORBIDDEN

    def operators():
        plain = make_operator(username="plain")
        viewer = make_operator("stations.view_transaction", username="viewer")
        return Token.objects.create(user=plain).key, Token.objects.create(user=viewer).key

    plain, viewer = await sync_to_async(operators)()
    assert await closed_with(await open_live(plain, query="all=1")) == 4403

    alice_tx = await start(world, "ALICE-TAG")
    everything = await open_live(viewer, query="all=1")
    snapshot = await everything.receive_json_from(timeout=TIMEOUT)
    assert snapshot["scope"] == "all"
    assert [s["transaction"] for s in snapshot["sessions"]] == [alice_tx]
    bob_tx = await start(world, "BOB-TAG", connector_id=2)
    started = await everything.receive_json_from(timeout=TIMEOUT)
    assert (started["type"], started["transaction"]) == ("session.started", bob_tx)
    await everything.disconnect()

    # Without ?all=1 an operator follows their own sessions, like a driver.
    own = await open_live(viewer)
    assert (await own.receive_json_from(timeout=TIMEOUT))["sessions"] == []
    await own.disconnect()


async def test_a_new_socket_beyond_the_limit_closes_the_oldest(world, settings):
    settings.DRIVER_LIVE_MAX_CONNECTIONS_PER_USER = 2
    first, second = await open_live(world["alice"]), await open_live(world["alice"])
    for socket in (first, second):
        await socket.receive_json_from(timeout=TIMEOUT)
    third = await open_live(world["alice"])
    await third.receive_json_from(timeout=TIMEOUT)
    assert await closed_with(first) == live_consumer.CLOSE_TOO_MANY
    other = await open_live(world["bob"])  # the limit is per user
    assert (await other.receive_json_from(timeout=TIMEOUT))["type"] == "session.snapshot"
    await second.send_json_to({"type": "ping"})
    assert await second.receive_json_from(timeout=TIMEOUT) == {"type": "pong"}
    for socket in (second, third, other):
        await socket.disconnect()


async def test_a_deactivated_account_is_closed_at_the_next_check(world, monkeypatch):
    monkeypatch.setattr(live_consumer, "REAUTH_SECONDS", 0.2)
    socket = await open_live(world["alice"])
    await socket.receive_json_from(timeout=TIMEOUT)
    await socket.send_json_to({"type": "ping"})  # still fine
    assert await socket.receive_json_from(timeout=TIMEOUT) == {"type": "pong"}
    await sync_to_async(User.objects.filter(username="alice").update)(is_active=False)
    assert await closed_with(socket) == live_consumer.CLOSE_UNAUTHENTICATED


# --- what the client may send ------------------------------------------------------------


async def test_ping_refresh_and_bad_messages(world, settings):
    settings.DRIVER_LIVE_KEEPALIVE_SECONDS = 0.3
    socket = await open_live(world["alice"])
    await socket.receive_json_from(timeout=TIMEOUT)
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_json_from(timeout=TIMEOUT) == {"type": "pong"}
    await socket.send_json_to({"type": "refresh"})
    too_soon = await socket.receive_json_from(timeout=TIMEOUT)
    assert (too_soon["type"], too_soon["code"]) == ("error", "too_soon")
    await socket.send_to(text_data="not json")
    assert (await socket.receive_json_from(timeout=TIMEOUT))["code"] == "bad_message"
    await socket.send_to(text_data='{"type": "' + "x" * 5000 + '"}')
    assert (await socket.receive_json_from(timeout=TIMEOUT))["code"] == "bad_message"
    await socket.send_json_to({"type": "subscribe"})
    assert (await socket.receive_json_from(timeout=TIMEOUT))["code"] == "unknown_type"
    assert await socket.receive_json_from(timeout=TIMEOUT) == {"type": "keepalive"}
    await socket.disconnect()


# --- a driver's sessions, and only theirs -------------------------------------------------


async def test_pushes_reach_the_owner_only(world):
    alice, bob = await open_live(world["alice"]), await open_live(world["bob"])
    for socket in (alice, bob):
        await socket.receive_json_from(timeout=TIMEOUT)

    tx = await start(world, "alice-tag")  # the tag's value, in another case
    started = await alice.receive_json_from(timeout=TIMEOUT)
    assert started == {
        "type": "session.started",
        "transaction": tx,
        "ocpp_transaction_id": "",
        "charge_point": "CP-LIVE",
        "connector_id": 1,
        "id_tag": "alice-tag",
        "start_timestamp": started["start_timestamp"],
        "meter_start": 10_000,
        "command_id": None,
    }
    assert started["start_timestamp"].endswith("Z")

    await in_worker_thread(transaction_stop)(
        charge_point_pk=world["cp"],
        transaction_id=tx,
        meter_stop=17_500,
        timestamp=timezone.now(),
        reason="EVDisconnected",
    )
    stopped = await alice.receive_json_from(timeout=TIMEOUT)
    assert stopped["type"] == "session.stopped"
    assert (stopped["transaction"], stopped["energy_wh"]) == (tx, 7_500)
    assert (stopped["stop_reason"], stopped["status"], stopped["disputed"]) == (
        "EVDisconnected",
        "ended",
        False,
    )
    assert (stopped["cost"], stopped["currency"]) == ("3.60", "EUR")

    invoice = await in_worker_thread(invoice_create)(transaction_id=tx)
    issued = await alice.receive_json_from(timeout=TIMEOUT)
    assert issued == {
        "type": "invoice.issued",
        "invoice": invoice.pk,
        "transaction": tx,
        "number": invoice.number,
        "total": "3.60",
        "currency": "EUR",
        "pdf_url": f"http://testserver/api/v1/invoices/{invoice.pk}/pdf/",
    }
    assert await bob.receive_nothing(timeout=0.5)
    for socket in (alice, bob):
        await socket.disconnect()


async def test_nobody_watching_costs_no_push(world, monkeypatch):
    submitted = []
    monkeypatch.setattr(push.push_queue, "submit", submitted.append)
    await start(world, "ALICE-TAG")
    assert submitted == []
    socket = await open_live(world["bob"])
    await socket.receive_json_from(timeout=TIMEOUT)
    await start(world, "ALICE-TAG", connector_id=2)
    assert [event.kind for event in submitted] == ["session.started"]
    await socket.disconnect()


async def test_the_poller_tells_energy_power_and_cost_then_the_end(world, settings):
    settings.DRIVER_LIVE_UPDATE_SECONDS = 0.2
    tx = await start(world, "ALICE-TAG", minutes_ago=30)
    alice, bob = await open_live(world["alice"]), await open_live(world["bob"])
    snapshot = await alice.receive_json_from(timeout=TIMEOUT)
    (entry,) = snapshot["sessions"]
    assert (entry["transaction"], entry["energy_wh"], entry["power_w"]) == (tx, None, None)
    assert (entry["cost_so_far"], entry["currency"]) == ("0.00", "EUR")
    assert (await bob.receive_json_from(timeout=TIMEOUT))["sessions"] == []

    first = timezone.now() - timedelta(minutes=20)
    await in_worker_thread(metervalues_record)(
        charge_point_pk=world["cp"],
        connector_id=1,
        transaction_id=tx,
        samples=[
            sample("12.5", "Energy.Active.Import.Register", "kWh", first),
            sample("7.4", "Power.Active.Import", "kW", first),
        ],
    )
    updated = await alice.receive_json_from(timeout=TIMEOUT)
    assert updated["type"] == "session.updated"
    assert (updated["transaction"], updated["energy_wh"], updated["power_w"]) == (tx, 2_500, 7_400)
    assert (updated["cost_so_far"], updated["currency"]) == ("1.20", "EUR")
    assert updated["measured_at"].endswith("Z")

    # Without a power reading: the energy between the last two readings over their time.
    await in_worker_thread(metervalues_record)(
        charge_point_pk=world["cp"],
        connector_id=1,
        transaction_id=tx,
        samples=[
            sample("14500", "Energy.Active.Import.Register", "Wh", first + timedelta(minutes=15))
        ],
    )
    derived = await alice.receive_json_from(timeout=TIMEOUT)
    assert (derived["energy_wh"], derived["power_w"]) == (4_500, 8_000)

    # The stop's push is lost (say, Redis was down): the poller tells it all the same.
    settings.EVENT_SUBSCRIBERS = [s for s in settings.EVENT_SUBSCRIBERS if "driver_live" not in s]
    await in_worker_thread(transaction_stop)(
        charge_point_pk=world["cp"],
        transaction_id=tx,
        meter_stop=15_000,
        timestamp=timezone.now(),
        reason="Local",
    )
    stopped = await alice.receive_json_from(timeout=TIMEOUT)
    assert (stopped["type"], stopped["transaction"], stopped["energy_wh"]) == (
        "session.stopped",
        tx,
        5_000,
    )
    invoice = await in_worker_thread(invoice_create)(transaction_id=tx)
    issued = await alice.receive_json_from(timeout=TIMEOUT)
    assert (issued["type"], issued["invoice"], issued["total"]) == (
        "invoice.issued",
        invoice.pk,
        str(invoice.total),
    )
    assert await alice.receive_nothing(timeout=0.6)  # nothing twice
    assert await bob.receive_nothing(timeout=0.1)
    for socket in (alice, bob):
        await socket.disconnect()

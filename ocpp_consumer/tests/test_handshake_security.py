"""What a stranger can do at the handshake with default settings, against a real Daphne.

Credential guessing must not lock out the real charger; a look-alike of a
registered id must not become a second charge point; a path no route serves
answers 404, not a 500 with a traceback; nothing in a URL forges a log line.
Different source addresses are real: the client binds 127.0.0.x.
"""

from __future__ import annotations

import asyncio
import base64
import re

import pytest
import websockets

from csms_project import testing
from ocpp_consumer.handshake import DENIAL_RESPONSE_EXTENSION, source_address
from ocpp_consumer.tests.conftest import TIMEOUT, OcppCommunicator
from stations.models import ChargePoint, SecurityEvent

KEY = "0123456789abcdef0123456789abcdef01234567"
WRONG = "wrong-wrong-wrong-1"
ADDRESS_LIMIT, ID_LIMIT = 3, 5
CONNECTED = 101


@pytest.fixture(scope="module")
def daphne(django_db_setup, tmp_path_factory):
    """One Daphne for the module (throttle counts persist: each test uses its own ids)."""
    log_dir = tmp_path_factory.mktemp("daphne")
    env = testing.process_env(
        OCPP_AUTH_FAILURE_LIMIT=str(ADDRESS_LIMIT),
        OCPP_AUTH_FAILURE_ID_LIMIT=str(ID_LIMIT),
        OCPP_AUTH_FAILURE_WINDOW="300",
        LOG_LEVEL="INFO",
    )
    env.pop("REDIS_URL", None)
    with testing.daphne_node(env, log_dir) as base_url:
        port = base_url.rsplit(":", 1)[1]
        yield base_url.replace("http://", "ws://"), log_dir / f"daphne-{port}.log"


async def handshake(url: str, *, source: str = "127.0.0.1", credentials=None) -> int:
    """The HTTP status of the handshake: 101 when it connected."""
    headers = {}
    if credentials:
        token = base64.b64encode(":".join(credentials).encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    try:
        async with websockets.connect(
            url,
            subprotocols=["ocpp1.6"],
            additional_headers=headers,
            local_addr=(source, 0),
            open_timeout=10,
        ) as ws:
            return CONNECTED if ws.subprotocol == "ocpp1.6" else 0
    except websockets.exceptions.InvalidStatus as exc:
        return exc.response.status_code


def statuses(*attempts) -> list[int]:
    async def run():
        return [await attempt for attempt in attempts]

    return asyncio.run(asyncio.wait_for(run(), 60))


def make_charge_point(charge_point_id: str) -> ChargePoint:
    charge_point = ChargePoint(charge_point_id=charge_point_id, security_profile=1)
    charge_point.set_password(KEY)
    charge_point.save()
    return charge_point


def log_text(log_path) -> str:
    return log_path.read_text(errors="replace")


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_guessing_from_many_addresses_never_locks_out_the_real_charger(daphne):
    ws_url, _ = daphne
    url = f"{ws_url}/ocpp/CP-GUESSED"
    make_charge_point("CP-GUESSED")
    attacker, charger = "127.0.0.2", "127.0.0.3"

    def attempt(source, key):
        return handshake(url, source=source, credentials=("CP-GUESSED", key))

    # One address guessing: refused once it reached the limit, right key or not.
    assert statuses(*(attempt(attacker, WRONG) for _ in range(ADDRESS_LIMIT))) == [401] * 3
    assert statuses(attempt(attacker, WRONG), attempt(attacker, KEY)) == [429, 429]
    # The real charger, at its own address, is not locked out by that.
    assert statuses(attempt(charger, KEY)) == [CONNECTED]
    # Guessing spread over addresses: past the id limit, an address that has
    # failed once is refused for this id; a clean address still gets checked.
    assert statuses(attempt("127.0.0.4", WRONG), attempt("127.0.0.5", WRONG)) == [401, 401]
    assert statuses(attempt("127.0.0.4", KEY)) == [429]
    assert statuses(attempt("127.0.0.6", WRONG)) == [401]
    assert statuses(attempt(charger, KEY), attempt("127.0.0.7", KEY)) == [CONNECTED] * 2
    # Every checked failure is a security event; a throttled refusal is not.
    events = SecurityEvent.objects.filter(
        charge_point__charge_point_id="CP-GUESSED", event_type="FailedToAuthenticate"
    )
    assert sorted(events.values_list("source_address", flat=True)) == [
        *["127.0.0.2"] * 3,
        "127.0.0.4",
        "127.0.0.5",
        "127.0.0.6",
    ]


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_look_alike_of_a_registered_id_is_refused_and_not_registered(daphne):
    ws_url, log_path = daphne
    make_charge_point("CP-LOOK")

    def attempt(path_id, credentials=None, source="127.0.1.1"):
        return handshake(f"{ws_url}/ocpp/{path_id}", credentials=credentials, source=source)

    results = statuses(
        attempt("cp-look"),
        attempt("cp-look", ("cp-look", KEY)),  # its own credentials do not help
        attempt("Cp-Look", ("CP-LOOK", KEY)),  # nor the real one's
        attempt("CP-LOOK%20"),
        attempt("%20CP-LOOK"),
        attempt("CP-LOOK%09"),
        attempt("CP-LOOK%00"),
        attempt("CP%20%20LOOK"),
        attempt("CP-LOOK", ("CP-LOOK", KEY), source="127.0.1.2"),
        attempt("CP-LOOK-2", source="127.0.1.3"),  # a new id still registers itself
    )
    assert results == [409, 409, 409, 404, 404, 404, 404, 404, CONNECTED, CONNECTED]
    assert sorted(ChargePoint.objects.values_list("charge_point_id", flat=True)) == [
        "CP-LOOK",
        "CP-LOOK-2",
    ]
    claimed = SecurityEvent.objects.filter(charge_point__charge_point_id="CP-LOOK")
    assert sorted(claimed.values_list("claimed_id", flat=True)) == ["Cp-Look", "cp-look", "cp-look"]
    assert "id differs only by case from registered CP-LOOK" in log_text(log_path)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/ocpp/", "/ocpp", "/ocpp/a/b", "/anything", "/ws/dashboard/x"])
def test_an_unrouted_path_answers_404_without_a_traceback(daphne, path):
    ws_url, log_path = daphne
    assert statuses(handshake(f"{ws_url}{path}")) == [404]
    log = log_text(log_path)
    assert "Traceback" not in log
    assert "No route found" not in log


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "path",
    ["/ocpp/CP1%0D%0AERROR%20forged", "/ocpp/CP1%0AERROR%20forged", "/x%0D%0AERROR%20forged"],
)
def test_nothing_in_a_url_forges_a_log_line(daphne, path):
    ws_url, log_path = daphne
    assert statuses(handshake(f"{ws_url}{path}")) == [404]
    log = log_text(log_path)
    assert not re.search(r"^ERROR forged", log, re.MULTILINE)
    assert "\\nERROR forged" in log  # the line is there, escaped
    assert not ChargePoint.objects.exists()


# --- the same without a server: Channels' test client ---------------------------------


async def denial_status(path: str) -> int | str:
    socket = OcppCommunicator(path)
    socket.scope["extensions"] = {DENIAL_RESPONSE_EXTENSION: {}}
    await socket.send_input({"type": "websocket.connect"})
    first = await socket.receive_output(timeout=TIMEOUT)
    await socket.wait(timeout=TIMEOUT)
    return first.get("status", first["type"])


@pytest.mark.parametrize("path", ["/ocpp/", "/ocpp/a/b", "/anything"])
async def test_an_unrouted_path_is_denied_404_by_the_asgi_app(path):
    assert await denial_status(path) == 404


async def test_without_the_denial_extension_an_unrouted_path_is_closed():
    socket = OcppCommunicator("/anything")
    connected, _ = await socket.connect(timeout=TIMEOUT)
    assert connected is False  # the server answers 403


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_two_nodes_share_the_failure_counts_over_redis(tmp_path):
    make_charge_point("CP-CLUSTER")
    with testing.private_redis(tmp_path) as redis_server:
        env = testing.process_env(
            REDIS_URL=redis_server.url,
            CHANNEL_LAYER_PREFIX=f"csms-h1-{tmp_path.name}",
            OCPP_AUTH_FAILURE_LIMIT=str(ADDRESS_LIMIT),
            OCPP_AUTH_FAILURE_ID_LIMIT=str(ID_LIMIT),
        )
        with (
            testing.daphne_node(env, tmp_path) as node_1,
            testing.daphne_node(env, tmp_path) as node_2,
        ):
            urls = [
                f"{node.replace('http://', 'ws://')}/ocpp/CP-CLUSTER" for node in (node_1, node_2)
            ]

            def attempt(url, source, key):
                return handshake(url, source=source, credentials=("CP-CLUSTER", key))

            attacker, charger = "127.0.2.1", "127.0.2.2"
            # Guesses spread over both nodes count together ...
            first = [attempt(urls[n % 2], attacker, WRONG) for n in range(ADDRESS_LIMIT)]
            assert statuses(*first) == [401] * ADDRESS_LIMIT
            assert statuses(attempt(urls[0], attacker, KEY), attempt(urls[1], attacker, KEY)) == [
                429,
                429,
            ]
            # ... and lock out neither node for the real charger.
            assert statuses(attempt(urls[1], charger, KEY)) == [CONNECTED]


# --- who is connecting behind a proxy -------------------------------------------------


def scope_from(peer: str, forwarded_for: str | None = None) -> dict:
    headers = [(b"x-forwarded-for", forwarded_for.encode())] if forwarded_for else []
    return {"client": (peer, 40000), "headers": headers}


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "address"),
    [
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),  # not a proxy: its claim is ignored
        ("10.0.0.2", None, "10.0.0.2"),  # a proxy that did not say
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "1.2.3.4, 198.51.100.1", "198.51.100.1"),  # the left is the client's own
        ("10.0.0.2", "198.51.100.1, 10.0.0.3", "198.51.100.1"),  # two trusted hops
        ("10.0.0.2", "not-an-address", "10.0.0.2"),
    ],
)
def test_behind_a_trusted_proxy_the_forwarded_client_is_throttled(
    settings, peer, forwarded_for, address
):
    settings.OCPP_TRUSTED_PROXIES = ["10.0.0.2", "10.0.0.3"]
    assert source_address(scope_from(peer, forwarded_for)) == address

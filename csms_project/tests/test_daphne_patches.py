"""csms_project.daphne_patches: a plain `daphne csms_project.asgi:application` listens
ready for a reconnect storm and refuses handshakes with the application's status,
on the Daphne release it was written for, and only there."""

import asyncio
import hashlib
import inspect
import re
import subprocess
from functools import partial
from pathlib import Path

import daphne
import pytest
from autobahn.websocket.types import ConnectionDeny
from daphne.cli import CommandLineInterface
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol
from twisted.internet import defer

from csms_project import daphne_patches, testing
from csms_project.daphne_patches import DENIAL_RESPONSE_EXTENSION, CsmsServer
from ocpp_consumer.handshake import DENIAL_RESPONSE_EXTENSION as CONSUMER_EXTENSION

ENDPOINT = "tcp:port=0:interface=127.0.0.1"

# The Daphne code CsmsServer relies on, as read for daphne 4.2.3 (sha256 of the
# source, first 16 hex digits). A mismatch means upstream changed it: re-read
# the override named in the comment against the new code before updating.
RELIED_ON = {
    # CsmsServer.__init__: the keyword options it raises, passed on as they are.
    Server.__init__: "e090af1e2673d44f",
    # CsmsServer.create_application: the scope reaches the application as given.
    Server.create_application: "f1e300b4ecf636c8",
    # CsmsServer.handle_reply: replies of live connections go to protocol.handle_reply.
    Server.handle_reply: "9d9dbaea6de0657a",
    # CsmsServer._deny: a handshake waits on `handshake_deferred`...
    WebSocketProtocol.onConnect: "b1ce2efc1874b9b5",
    # ...which the protocol answers itself only for websocket.accept/close...
    WebSocketProtocol.handle_reply: "5331423b1cf2016a",
    # ...and refuses as _deny does, with 403.
    WebSocketProtocol.serverReject: "7166e95b99f2a316",
    # CsmsServer.application_checker / timeout_checker: each round schedules the next.
    Server.application_checker: "ccb688341a7d0bc1",
    Server.timeout_checker: "6b70373a3a77cb2b",
    WebSocketProtocol.check_timeouts: "0e2ee6816a93a598",
    # install(): the command line loads the application, then builds `server_class`.
    CommandLineInterface.run: "039cb21244f402ac",
}


@pytest.fixture
def installed(monkeypatch):
    monkeypatch.setattr(CommandLineInterface, "server_class", CommandLineInterface.server_class)
    assert daphne_patches.install()


def test_endpoints_get_a_backlog_unless_they_have_one():
    assert daphne_patches.with_backlog("tcp:port=8000:interface=0.0.0.0", 1024) == (
        "tcp:port=8000:interface=0.0.0.0:backlog=1024"
    )
    assert daphne_patches.with_backlog("tcp:8000:backlog=64", 1024) == "tcp:8000:backlog=64"
    assert daphne_patches.with_backlog("unix:/run/csms.sock", 1024) == "unix:/run/csms.sock"


def test_short_handshake_timeouts_are_raised(installed):
    server_class = CommandLineInterface().server_class
    assert server_class is CsmsServer
    server = server_class(
        application=None,
        endpoints=[ENDPOINT],
        websocket_connect_timeout=5,
        websocket_handshake_timeout=5,
    )
    assert server.websocket_connect_timeout == daphne_patches.CONNECT_TIMEOUT
    assert server.websocket_handshake_timeout == daphne_patches.CONNECT_TIMEOUT
    assert server.endpoints == [f"{ENDPOINT}:backlog={daphne_patches.LISTEN_BACKLOG}"]


def test_longer_timeouts_and_given_backlogs_are_kept():
    server = CsmsServer(
        application=None,
        endpoints=["tcp:port=0:backlog=64"],
        websocket_connect_timeout=600,
        websocket_handshake_timeout=600,
    )
    assert (server.websocket_connect_timeout, server.websocket_handshake_timeout) == (600, 600)
    assert server.endpoints == ["tcp:port=0:backlog=64"]


async def test_websocket_scopes_offer_the_denial_extension():
    scopes = []

    async def application(scope, receive, send):
        scopes.append(scope)

    server = CsmsServer(application=application, endpoints=[ENDPOINT])
    protocol = WebSocketProtocol()
    server.connections = {protocol: {}}
    assert server.create_application(protocol, {"type": "websocket"}) is not None
    await server.connections[protocol]["application_instance"]
    assert scopes[0]["extensions"] == {DENIAL_RESPONSE_EXTENSION: {}}
    assert "scheme" not in scopes[0]  # no TLS transport
    assert DENIAL_RESPONSE_EXTENSION == CONSUMER_EXTENSION


@pytest.mark.parametrize("status", [401, 404])
def test_a_denial_refuses_the_handshake_with_the_application_s_status(status):
    server = CsmsServer(application=None, endpoints=[ENDPOINT])
    protocol = WebSocketProtocol()
    protocol.state = protocol.STATE_CONNECTING
    protocol.handshake_deferred = handshake = defer.Deferred()
    refusals = []
    handshake.addErrback(lambda failure: refusals.append(failure.value))
    server.connections = {protocol: {"connected": 0}}

    async def deny():
        start = {"type": f"{DENIAL_RESPONSE_EXTENSION}.start", "status": status, "headers": []}
        await server.handle_reply(protocol, start)
        assert refusals == []  # the answer goes with the (last) body message
        await server.handle_reply(protocol, {"type": f"{DENIAL_RESPONSE_EXTENSION}.body"})

    asyncio.run(deny())
    assert [(type(r), r.code) for r in refusals] == [(ConnectionDeny, status)]
    assert not hasattr(protocol, "handshake_deferred")
    assert "disconnected" in server.connections[protocol]


def test_a_frame_for_a_socket_that_just_closed_is_dropped_not_raised():
    # At 50,000 charge points, answers late enough for their charger to hang up
    # ended the application with a traceback, before it could record the disconnect.
    server = CsmsServer(application=None, endpoints=[ENDPOINT])
    protocol = WebSocketProtocol()
    protocol.state = protocol.STATE_CLOSED
    protocol.client_addr = ("127.0.0.1", 50000)
    server.connections = {protocol: {"connected": 0}}
    frame = {"type": "websocket.send", "text": '[3,"1",{}]'}
    asyncio.run(server.handle_reply(protocol, frame))  # autobahn raises Disconnected inside


def test_timeouts_are_checked_in_slices(monkeypatch):
    server = CsmsServer(application=None, endpoints=[ENDPOINT], ping_interval=20)
    checked, scheduled = [], []
    server.connections = {}
    for n in range(9):
        protocol = WebSocketProtocol()
        monkeypatch.setattr(protocol, "check_timeouts", partial(checked.append, n), raising=False)
        server.connections[protocol] = {}
    reactor = type("Reactor", (), {"callLater": lambda _, delay, f: scheduled.append(delay)})()
    monkeypatch.setattr(daphne_patches, "_reactor", lambda: reactor)
    server.timeout_checker()
    assert checked == [0, 3, 6]  # ping every 20 s: a third of the sockets per 2 s round
    server.timeout_checker()
    server.timeout_checker()
    assert sorted(checked) == list(range(9)) and scheduled == [2, 2, 2]
    fast = CsmsServer(application=None, endpoints=[ENDPOINT], ping_interval=1)
    fast.connections = dict(server.connections)
    fast.timeout_checker()
    assert len(checked) == 18  # a short ping interval: all of them every round, as Daphne


def test_the_tested_daphne_is_the_pinned_and_running_one():
    requirements = (Path(testing.BASE_DIR) / "requirements.txt").read_text()
    pinned = re.search(r"^daphne==(\S+)$", requirements, re.MULTILINE).group(1)
    assert daphne_patches.TESTED_DAPHNE_VERSIONS == {pinned}
    assert daphne.__version__ == pinned


@pytest.mark.parametrize("function", list(RELIED_ON), ids=lambda f: f.__qualname__)
def test_the_daphne_code_the_patches_rely_on_is_unchanged(function):
    digest = hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]
    assert digest == RELIED_ON[function], (
        f"daphne {daphne.__version__} changed {function.__qualname__}: re-check "
        "csms_project/daphne_patches.py against it"
    )


def test_the_hook_and_what_the_overrides_call_exist():
    assert vars(CommandLineInterface)["server_class"] in (Server, CsmsServer)
    parameters = inspect.signature(Server.__init__).parameters
    assert list(parameters)[:3] == ["self", "application", "endpoints"]
    assert {"websocket_connect_timeout", "websocket_handshake_timeout"} <= set(parameters)
    assert callable(Server.protocol_disconnected)


def test_an_untested_daphne_is_refused_loudly(monkeypatch):
    monkeypatch.setattr(CommandLineInterface, "server_class", Server)
    monkeypatch.setattr(daphne, "__version__", "99.0.0")
    with pytest.warns(RuntimeWarning, match="Daphne 99.0.0 is not a tested release"):
        assert daphne_patches.install() is False
    assert CommandLineInterface.server_class is Server


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_plain_daphne_listens_with_the_large_backlog(tmp_path):
    with testing.daphne_node(testing.process_env(), tmp_path) as base_url:
        port = base_url.rsplit(":", 1)[1]
        listening = subprocess.run(
            ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True
        ).stdout.split()
    # ss shows the listen backlog as Send-Q (the kernel caps it at somaxconn).
    assert int(listening[2]) == min(daphne_patches.LISTEN_BACKLOG, _somaxconn())


def _somaxconn() -> int:
    with open("/proc/sys/net/core/somaxconn") as f:
        return int(f.read())

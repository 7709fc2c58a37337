"""The one place that reaches into Daphne: what its options cannot give a plain
`daphne csms_project.asgi:application`.

1. Refusals with the HTTP status the application chose. ASGI's WebSocket
   Denial Response extension lets an application answer a handshake with an
   HTTP response (401 for bad charge point credentials, 404 for an unknown
   charge point); Daphne 4.2 does not implement it and answers every refusal
   with 403. `CsmsServer` offers the extension in the WebSocket scope, turns
   the application's `websocket.http.response.*` messages into that refusal,
   and sets the scope's scheme to "wss" on TLS sockets (Daphne leaves it out;
   security profile 2 needs it).
2. Room for a reconnect storm of a whole charging network. Daphne listens
   with Twisted's backlog of 50 and drops a handshake the application has not
   accepted within 5 s; when hundreds of charge points reconnect at once, both
   turn into resets and retries that never catch up (measured: 0 of 1,000
   back within 95 s; with a 1,024 backlog and 60 s, all within 10 s).
   `CsmsServer` raises both to CSMS_LISTEN_BACKLOG and OCPP_WS_CONNECT_TIMEOUT
   through Daphne's own options (the `backlog=` of an endpoint description,
   `websocket_connect_timeout` and `websocket_handshake_timeout`), unless the
   command line asked for more, so operators need no extra flags. `bin/run`
   and the launcher pass the same values as command-line options.

3. Less memory per idle socket (issue 22). Daphne gives each application an
   `asyncio.Queue` (four deques and an Event, about 3 KiB) whose `get` the
   consumer wraps in a task of its own. For WebSocket scopes `CsmsServer`
   passes an `ApplicationQueue` instead: the two methods Daphne and the
   application use (`put_nowait`, `get`), `get` returning a plain future
   that monitoring.channel_health's dispatch loop awaits without a task.
   And once a socket is upgraded, the HTTP request that carried the
   handshake is let go: Twisted's HTTPChannel stays the TCP transport's
   producer and keeps that request (two header tables, its body buffer)
   for the life of the socket, though neither serves it any more (the
   request never finishes, so the channel's pause/resume are no-ops).
   And the WebSocket factory's options, which Autobahn copies into every
   socket, become class attributes of the protocol class it serves.
   bench/results/PROFILE.md has what each of these saves.

`install()` has Daphne's command line build `CsmsServer` (through
`CommandLineInterface.server_class`, the attribute Daphne keeps for it). The
overrides rely on Daphne internals (how `Server.handle_reply` hands messages
to the protocol, the protocol's `handshake_deferred`), so `install()` refuses
any Daphne but the tested one, loudly, and
csms_project/tests/test_daphne_patches.py fails when upstream changes the code
they rely on. Under other servers (uvicorn, the test communicator) nothing
changes: the consumer sees no extension and falls back to a plain close.
"""

from __future__ import annotations

import asyncio
import logging
import os
import warnings
import weakref
from collections import deque
from functools import partial
from http import HTTPStatus

import daphne
from autobahn.exception import Disconnected
from autobahn.websocket.types import ConnectionDeny
from daphne.cli import CommandLineInterface
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol
from twisted.internet.interfaces import ISSLTransport
from twisted.web.http import HTTPChannel

logger = logging.getLogger(__name__)

# The Daphne releases these overrides were read against and tested with
# (requirements.txt pins the same).
TESTED_DAPHNE_VERSIONS = frozenset({"4.2.3"})

# The extension's name in the ASGI specification (ocpp_consumer.handshake names it too).
DENIAL_RESPONSE_EXTENSION = "websocket.http.response"

LISTEN_BACKLOG = int(os.environ.get("CSMS_LISTEN_BACKLOG", "1024"))
CONNECT_TIMEOUT = float(os.environ.get("OCPP_WS_CONNECT_TIMEOUT", "60"))
# CsmsServer.application_checker: finished applications are reaped this often.
APPLICATION_CHECK_SECONDS = 5
# CsmsServer.timeout_checker: the connections are checked about this many
# times per ping interval, in whole rounds of Daphne's (every 2 s), so a
# ping goes at most a third of the interval late (20 s: every 6 s).
TIMEOUT_CHECKS_PER_PING = 3
DAPHNE_TIMEOUT_ROUND_SECONDS = 2


def _reactor():
    # Imported when Daphne runs: it installs the asyncio reactor first.
    from twisted.internet import reactor

    return reactor


def with_backlog(endpoint: str, backlog: int = LISTEN_BACKLOG) -> str:
    """A tcp/ssl endpoint description with a listen backlog, unless it has one."""
    kind = endpoint.split(":", 1)[0]
    if kind not in ("tcp", "ssl", "tcp6") or "backlog=" in endpoint:
        return endpoint
    return f"{endpoint}:backlog={backlog}"


class ApplicationQueue:
    """What Daphne needs of an application's input queue, without asyncio.Queue's weight.

    Unbounded and FIFO as Daphne's `asyncio.Queue()`; `get()` returns a
    future (an awaitable, as the ASGI `receive` must), resolved by the next
    `put_nowait` when nothing is queued. Getters are served in order; one
    cancelled (the application stopped waiting) is skipped. An idle socket
    holds one pending future and nothing else: the deques (about 600 bytes
    each) exist only while messages or extra getters wait.
    """

    __slots__ = ("_items", "_getter", "_more_getters")

    def __init__(self) -> None:
        self._items: deque | None = None
        self._getter: asyncio.Future | None = None
        self._more_getters: deque[asyncio.Future] | None = None

    def put_nowait(self, item) -> None:
        while self._getter is not None:
            getter = self._getter
            more = self._more_getters
            self._getter = more.popleft() if more else None
            if not more:
                self._more_getters = None
            if not getter.done():
                getter.set_result(item)
                return
        if self._items is None:
            self._items = deque()
        self._items.append(item)

    def get(self) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        if self._items:
            future.set_result(self._items.popleft())
            if not self._items:
                self._items = None
        elif self._getter is None or (self._getter.done() and not self._more_getters):
            self._getter = future  # a cancelled getter with none behind it: replaced
        else:
            if self._more_getters is None:
                self._more_getters = deque()
            self._more_getters.append(future)
        return future

    def qsize(self) -> int:
        return len(self._items) if self._items else 0


def _release_upgrade_request(protocol) -> None:
    """Drop the HTTPChannel and request left behind by the upgrade (plain TCP only).

    Daphne's WebRequest.process hands the transport to the WebSocket
    protocol, but the HTTPChannel stays registered as the transport's
    producer, holding the request. Both are idle for good: the request
    never finishes, so the channel's timeout stays off and its
    pause/resume do nothing (`_handlingRequest`).
    """
    transport = getattr(protocol, "transport", None)
    channel = getattr(transport, "producer", None)
    if isinstance(channel, HTTPChannel) and channel._handlingRequest:
        channel.requests.clear()
        transport.unregisterProducer()


def _factory_options_as_class_attributes(factory) -> None:
    """Serve with a protocol class that carries the factory's options itself.

    Autobahn copies its 29 options (CONFIG_ATTRS) from the factory into
    every protocol instance that does not have them, which takes a socket's
    attribute table past 85 entries (a 256-slot dict, about 3 KiB). As class
    attributes of the protocol, with the factory's values as Daphne set them,
    they are read the same and copied into no socket. Once per factory.
    """
    protocol = factory.protocol
    if getattr(protocol, "_options_from_factory", None) is factory:
        return
    options = {name: getattr(factory, name) for name in protocol.CONFIG_ATTRS}
    # A function option (perMessageCompressionAccept) must not become a method.
    options = {
        name: staticmethod(value) if callable(value) else value for name, value in options.items()
    }
    factory.protocol = type(
        protocol.__name__, (protocol,), {**options, "_options_from_factory": factory}
    )


class CsmsServer(Server):
    """Daphne's server with the denial-response extension and storm-ready defaults."""

    def __init__(self, application, endpoints=None, **options) -> None:
        for name in ("websocket_connect_timeout", "websocket_handshake_timeout"):
            if name in options and 0 <= options[name] < CONNECT_TIMEOUT:
                options[name] = CONNECT_TIMEOUT
        endpoints = [with_backlog(endpoint) for endpoint in endpoints or []]
        super().__init__(application, endpoints, **options)
        # Status of a denial whose start message came and whose body has not yet.
        self._denial_status: weakref.WeakKeyDictionary[WebSocketProtocol, int] = (
            weakref.WeakKeyDictionary()
        )

    # Daphne walks every connection each second (application_checker: reap
    # finished applications) and every two seconds (timeout_checker: pings,
    # handshake and age limits). At 10,000 sockets per process that was a
    # third of the event loop's CPU with the traffic of a real fleet (py-spy,
    # bench/results/PROFILE.md), in walks that held the loop for tens of
    # milliseconds. Neither needs that pace: a finished application is
    # reaped within APPLICATION_CHECK_SECONDS, and each round of timeouts
    # walks a slice of the connections, so that a ping goes at most a third
    # of the ping interval late.
    def application_checker(self):
        self._application_rounds = getattr(self, "_application_rounds", 0) + 1
        if self._application_rounds % APPLICATION_CHECK_SECONDS:
            _reactor().callLater(1, self.application_checker)
            return
        super().application_checker()  # schedules the next round in 1 s

    def timeout_checker(self):
        """Daphne's round every 2 s, over a slice of the connections (each every few rounds)."""
        rounds = self.ping_interval / (TIMEOUT_CHECKS_PER_PING * DAPHNE_TIMEOUT_ROUND_SECONDS)
        share = max(1, int(rounds))
        self._timeout_rounds = (getattr(self, "_timeout_rounds", -1) + 1) % share
        for protocol in list(self.connections)[self._timeout_rounds :: share]:
            protocol.check_timeouts()
        _reactor().callLater(DAPHNE_TIMEOUT_ROUND_SECONDS, self.timeout_checker)

    def listen_success(self, port):
        # Daphne built and configured its WebSocket factory before listening.
        _factory_options_as_class_attributes(self.ws_factory)
        super().listen_success(port)

    def create_application(self, protocol, scope):
        if scope.get("type") == "websocket":
            scope.setdefault("extensions", {})[DENIAL_RESPONSE_EXTENSION] = {}
            if ISSLTransport.providedBy(getattr(protocol, "transport", None)):
                scope["scheme"] = "wss"
            _release_upgrade_request(protocol)
            return self._create_websocket_application(protocol, scope)
        return super().create_application(protocol, scope)

    def _create_websocket_application(self, protocol, scope):
        """Daphne's create_application with an ApplicationQueue in place of asyncio.Queue."""
        assert "application_instance" not in self.connections[protocol]
        input_queue = ApplicationQueue()
        scope.setdefault("asgi", {"version": "3.0"})
        application_instance = self.application(
            scope=scope, receive=input_queue.get, send=partial(self.handle_reply, protocol)
        )
        if protocol not in self.connections:
            return None
        self.connections[protocol]["application_instance"] = asyncio.ensure_future(
            application_instance, loop=asyncio.get_event_loop()
        )
        return input_queue

    async def handle_reply(self, protocol, message):
        kind = message.get("type", "")
        if (
            kind.startswith(DENIAL_RESPONSE_EXTENSION)
            and isinstance(protocol, WebSocketProtocol)
            and protocol.state == protocol.STATE_CONNECTING
            and protocol in self.connections
            and not self.connections[protocol].get("disconnected")
        ):
            self._deny(protocol, message)
            return
        try:
            await super().handle_reply(protocol, message)
        except Disconnected:
            # The peer went while its answer was on the way (a charger that
            # gave up, a closing socket): nothing to send it. Raising here
            # would end the application with a traceback before it sees the
            # disconnect, and the charge point would stay marked online.
            logger.info("a frame for a closed socket was dropped")

    def _deny(self, protocol: WebSocketProtocol, message: dict) -> None:
        """Refuse the handshake with the status of the denial's start message.

        As Daphne's own refusal (`WebSocketProtocol.serverReject`) does, with
        that status in place of 403; the body is not sent.
        """
        if message["type"] == f"{DENIAL_RESPONSE_EXTENSION}.start":
            self._denial_status[protocol] = int(message["status"])
            return
        if message.get("more_body", False):
            return
        status = self._denial_status.pop(protocol, HTTPStatus.FORBIDDEN)
        handshake = getattr(protocol, "handshake_deferred", None)
        if handshake is None:  # answered already (e.g. a failed application)
            return
        del protocol.handshake_deferred
        handshake.errback(ConnectionDeny(code=status, reason=HTTPStatus(status).phrase))
        self.protocol_disconnected(protocol)


def install() -> bool:
    """Have Daphne's command line serve with CsmsServer; False on an untested Daphne.

    Refuse rather than guess: on another Daphne release the server runs as
    Daphne ships it (refusals answer 403; backlog and handshake timeout come
    from the command line only), and every start says so.
    """
    if daphne.__version__ not in TESTED_DAPHNE_VERSIONS:
        message = (
            f"Daphne {daphne.__version__} is not a tested release "
            f"({', '.join(sorted(TESTED_DAPHNE_VERSIONS))}): csms_project.daphne_patches "
            "is not installed, so refused charge point handshakes answer 403 instead of "
            "401/404, and a reconnect storm needs --websocket_connect_timeout and an "
            "endpoint with backlog= on the command line. Re-check the patches and extend "
            "TESTED_DAPHNE_VERSIONS, or pin the tested release."
        )
        logger.critical(message)
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        return False
    CommandLineInterface.server_class = CsmsServer
    return True

"""Fakes for the simulator tests: a scripted CSMS (websockets server) and helpers.

The fake CSMS speaks OCPP 1.6 and 2.0.1 (the subprotocol a charge point
offers) and checks what it receives against that version's official schemas
straight from the `ocpp` package and jsonschema, not through the simulator's
own checks (frames.py), so that a mistake there cannot hide one in a frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import unquote

from jsonschema import Draft4Validator, FormatChecker
from ocpp.messages import MessageType, get_validator
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

from simulator import SimulationConfig

OCPP_TIMESTAMP_Z = "%Y-%m-%dT%H:%M:%S.%fZ"


def now_z() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_DATE_TIMES = FormatChecker(formats=())


@_DATE_TIMES.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or datetime.fromisoformat(value) is not None


SUBPROTOCOLS = {"ocpp1.6": "1.6", "ocpp2.0.1": "2.0.1"}


def schema_violation(
    message_type_id: int, action: str, payload: dict, version: str = "1.6"
) -> str | None:
    """What in a CALL (2) or CALLRESULT (3) payload breaks its schema; None if nothing."""
    schema = get_validator(message_type_id, action, version).schema
    decimals = json.loads(json.dumps(schema, default=float), parse_float=Decimal)
    validator = Draft4Validator(decimals, format_checker=_DATE_TIMES)
    payload = json.loads(json.dumps(payload), parse_float=Decimal)
    errors = sorted(validator.iter_errors(payload), key=str)
    return errors[0].message if errors else None


def default_answer(charge_point_id: str, action: str, payload: dict, csms: FakeCsms):
    """What a well-behaved CSMS answers; None means: no answer at all."""
    if csms.versions.get(charge_point_id) == "2.0.1":
        return default_answer_201(charge_point_id, action, payload, csms)
    if action == "BootNotification":
        return {"status": "Accepted", "currentTime": now_z(), "interval": 300}
    if action == "Heartbeat":
        return {"currentTime": now_z()}
    if action == "Authorize":
        return {"idTagInfo": {"status": "Accepted"}}
    if action == "StartTransaction":
        csms.next_transaction_id += 1
        return {"transactionId": csms.next_transaction_id, "idTagInfo": {"status": "Accepted"}}
    return {}


def default_answer_201(charge_point_id: str, action: str, payload: dict, csms: FakeCsms):
    """What a well-behaved OCPP 2.0.1 CSMS answers."""
    if action == "BootNotification":
        return {"status": "Accepted", "currentTime": now_z(), "interval": 300}
    if action == "Heartbeat":
        return {"currentTime": now_z()}
    if action == "Authorize":
        return {"idTokenInfo": {"status": "Accepted"}}
    if action == "TransactionEvent" and payload["eventType"] == "Started":
        return {"idTokenInfo": {"status": "Accepted"}}
    return {}


class FakeCsms:
    """A scripted Central System on 127.0.0.1 that validates what it receives."""

    def __init__(self, answer=default_answer, refuse=None, ssl=None, delay=0.0):
        self.answer = answer
        self.refuse = refuse  # (charge_point_id, request) -> HTTPStatus | None
        self.ssl = ssl
        self.delay = delay
        self.calls: list[tuple[float, str, str, dict]] = []  # (time, cp id, action, payload)
        self.invalid: list[tuple[str, dict, str]] = []
        self.handshakes: list[tuple[str, str | None]] = []  # (cp id, Authorization header)
        self.connections: dict[str, object] = {}
        self.connects: Counter = Counter()
        self.in_flight: Counter = Counter()
        self.max_in_flight: Counter = Counter()
        self.next_transaction_id = 0
        # The OCPP version each charge point's (last) connection speaks.
        self.versions: dict[str, str] = {}
        self._replies: dict[str, asyncio.Future] = {}
        self._server = None

    @property
    def url(self) -> str:
        port = self._server.sockets[0].getsockname()[1]
        return f"{'wss' if self.ssl else 'ws'}://127.0.0.1:{port}/ocpp/"

    async def __aenter__(self):
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            subprotocols=list(SUBPROTOCOLS),
            process_request=self._process_request,
            compression=None,
            ssl=self.ssl,
        )
        return self

    async def __aexit__(self, *exc):
        self._server.close()
        await self._server.wait_closed()

    def actions(self, charge_point_id: str | None = None) -> list[str]:
        return [a for _, cp, a, _ in self.calls if charge_point_id in (None, cp)]

    def _process_request(self, connection, request):
        charge_point_id = unquote(request.path.rsplit("/", 1)[-1])
        self.handshakes.append((charge_point_id, request.headers.get("Authorization")))
        status = self.refuse and self.refuse(charge_point_id, request)
        if status:
            return connection.respond(status, "refused\n")
        return None

    async def _handle(self, websocket):
        charge_point_id = unquote(websocket.request.path.rsplit("/", 1)[-1])
        self.connections[charge_point_id] = websocket
        self.connects[charge_point_id] += 1
        self.versions[charge_point_id] = SUBPROTOCOLS[websocket.subprotocol]
        with contextlib.suppress(ConnectionClosed):
            async for text in websocket:
                message = json.loads(text)
                if message[0] == 2:
                    asyncio.ensure_future(self._on_call(websocket, charge_point_id, message))
                else:
                    future = self._replies.pop(message[1], None)
                    if future is not None and not future.done():
                        future.set_result(message)

    async def _on_call(self, websocket, charge_point_id, message):
        _, unique_id, action, payload = message
        self.calls.append((time.monotonic(), charge_point_id, action, payload))
        self.in_flight[charge_point_id] += 1
        self.max_in_flight[charge_point_id] = max(
            self.max_in_flight[charge_point_id], self.in_flight[charge_point_id]
        )
        version = self.versions[charge_point_id]
        violation = schema_violation(MessageType.Call, action, payload, version)
        if violation is not None:
            self.invalid.append((action, payload, violation))
        answer = self.answer(charge_point_id, action, payload, self)
        if self.delay:
            await asyncio.sleep(self.delay)
        self.in_flight[charge_point_id] -= 1
        if answer is not None:
            with contextlib.suppress(Exception):
                await websocket.send(json.dumps([3, unique_id, answer]))

    async def call(self, charge_point_id: str, action: str, payload: dict, timeout=5.0) -> list:
        """Send a CALL to a connected charge point; return its answer frame."""
        unique_id = f"csms-{len(self._replies)}-{time.monotonic_ns()}"
        future = asyncio.get_running_loop().create_future()
        self._replies[unique_id] = future
        self.last_sent_id = unique_id
        await self.connections[charge_point_id].send(json.dumps([2, unique_id, action, payload]))
        return await asyncio.wait_for(future, timeout)


def config_for(url: str, **options) -> SimulationConfig:
    """A fast configuration: no sessions, quick retries, unless the test says otherwise."""
    defaults = dict(
        charge_points=1,
        connectors=1,
        sessions_per_hour=0,
        backoff_base=0.05,
        backoff_cap=0.2,
        call_timeout=2.0,
        stop_timeout=3.0,
        seed=1,
        ramp=100,
    )
    return SimulationConfig(url=url, **{**defaults, **options})


async def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


@contextlib.contextmanager
def csms_in_thread(**options):
    """A FakeCsms on its own event loop, for code that runs asyncio.run() itself."""
    loop = asyncio.new_event_loop()
    csms = FakeCsms(**options)
    started = threading.Event()

    def serve_forever():
        loop.run_until_complete(csms.__aenter__())
        started.set()
        loop.run_forever()
        loop.run_until_complete(csms.__aexit__())
        loop.close()

    thread = threading.Thread(target=serve_forever, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield csms
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.05)

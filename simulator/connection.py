"""Opening a charge point's WebSocket, naming why a handshake failed, and back-off.

The client is websockets' asyncio one, set up as a charger is: the
subprotocol of its OCPP version (`ocpp1.6` or `ocpp2.0.1`, only that one
offered), no permessage-deflate (chargers rarely offer it, and compression
would change what a load test measures), HTTP Basic auth for security
profile 1/2, and WebSocket pings as OCPP's WebSocketPingInterval does.
"""

from __future__ import annotations

import random
import ssl

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.headers import build_authorization_basic

from .config import SimulationConfig

SUBPROTOCOL = "ocpp1.6"
SUBPROTOCOL_201 = "ocpp2.0.1"
# What a charger pings at (OCPP's WebSocketPingInterval); Daphne answers pings.
PING_INTERVAL = 20.0
CLOSE_TIMEOUT = 5.0


class NoSubprotocol(Exception):
    """The server accepted the WebSocket but did not agree to the subprotocol offered."""

    def __init__(self, subprotocol: str) -> None:
        super().__init__(f"the server did not select {subprotocol}")
        self.subprotocol = subprotocol


def insecure_ssl_context() -> ssl.SSLContext:
    """TLS without certificate or host name checks (--insecure: test servers only)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def open_websocket(
    config: SimulationConfig,
    charge_point_id: str,
    *,
    password: str | None,
    subprotocol: str = SUBPROTOCOL,
) -> ClientConnection:
    """Handshake as this charge point offering `subprotocol`; raise on any failure
    (see failure_reason)."""
    headers = {}
    if password:
        headers["Authorization"] = build_authorization_basic(charge_point_id, password)
    options = {}
    if config.secure and config.insecure:
        options["ssl"] = insecure_ssl_context()
    websocket = await connect(
        config.url_for(charge_point_id),
        subprotocols=[subprotocol],
        compression=None,
        additional_headers=headers,
        open_timeout=config.connect_timeout,
        ping_interval=PING_INTERVAL,
        ping_timeout=PING_INTERVAL,
        close_timeout=CLOSE_TIMEOUT,
        **options,
    )
    if websocket.subprotocol != subprotocol:
        await websocket.close()
        raise NoSubprotocol(subprotocol)
    return websocket


def failure_reason(exc: BaseException) -> str:
    """A short, countable reason for a failed handshake: "HTTP 401", "timeout"..."""
    if isinstance(exc, InvalidStatus):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, NoSubprotocol):
        return f"no {exc.subprotocol} subprotocol"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "TLS certificate not trusted"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or type(exc).__name__}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, InvalidHandshake):
        return f"invalid handshake ({type(exc).__name__})"
    if isinstance(exc, OSError):
        return f"network error ({type(exc).__name__})"
    return type(exc).__name__


def backoff_delay(rng: random.Random, attempt: int, *, base: float, cap: float) -> float:
    """Full-jitter exponential back-off: uniform in [0, min(cap, base * 2**attempt)].

    Spreading retries over the whole window keeps a fleet that lost its
    server at the same moment from coming back at the same moment.
    """
    ceiling = cap if attempt >= 64 else min(cap, base * 2**attempt)
    return rng.uniform(0, ceiling)

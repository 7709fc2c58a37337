"""Two WebSocket clients with one small interface, for the load generator.

`lean`: a minimal RFC 6455 client on an asyncio Protocol: text frames only,
answers pings, no extensions. On this machine it costs the client about a
third of what the `websockets` asyncio client costs per round trip, so that
one load-generator core can drive the bare echo server near its own limit:
otherwise the "physical reference" would measure the client, and every ratio
to it would look better than it is. Frames are masked with an all-zero key
(legal framing; the server unmasks as usual): that spares the client an XOR.

`websockets`: the `websockets` 17 asyncio client, for a cross-check.

Both raise `Closed` from recv/send on a closed socket, `HandshakeFailed`
(with the HTTP status) when the server refuses, TimeoutError and OSError.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
from collections import deque
from urllib.parse import urlsplit

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
ZERO_MASK = b"\x00\x00\x00\x00"


class Closed(Exception):
    """The socket is closed (by either side)."""


class HandshakeFailed(Exception):
    def __init__(self, status: int):
        super().__init__(f"HTTP {status}")
        self.status = status


def _frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return header + ZERO_MASK + payload


class LeanConnection(asyncio.Protocol):
    def __init__(self, host: str, path: str, subprotocol: str):
        self.host, self.path, self.wanted = host, path, subprotocol
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.handshake: asyncio.Future = asyncio.get_running_loop().create_future()
        self.waiter: asyncio.Future | None = None
        self.messages: deque[str] = deque()
        self.fragments: list[bytes] = []
        self.closed = False
        self.close_code: int | None = None
        self.subprotocol: str | None = None
        self.key = base64.b64encode(os.urandom(16))

    # --- asyncio.Protocol ---------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        request = (
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {self.key.decode()}\r\n"
            f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {self.wanted}\r\n\r\n"
        )
        transport.write(request.encode())

    def data_received(self, data: bytes):
        self.buffer += data
        if not self.handshake.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).decode("latin-1")
            del self.buffer[: end + 4]
            self._check_handshake(head)
            if not self.handshake.done() or self.handshake.exception() is not None:
                return
        self._parse()

    def connection_lost(self, exc):
        self._mark_closed(self.close_code or 1006)
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionResetError("closed during the handshake"))

    # --- internals ------------------------------------------------------------

    def _check_handshake(self, head: str) -> None:
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        if status != 101:
            self.handshake.set_exception(HandshakeFailed(status))
            self.transport.close()
            return
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        accept = base64.b64encode(hashlib.sha1(self.key + GUID).digest()).decode()
        if headers.get("sec-websocket-accept") != accept:
            self.handshake.set_exception(HandshakeFailed(-1))
            self.transport.close()
            return
        self.subprotocol = headers.get("sec-websocket-protocol")
        self.handshake.set_result(None)

    def _parse(self) -> None:
        buf = self.buffer
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            n = b1 & 0x7F
            offset = 2
            if n == 126:
                if len(buf) < 4:
                    return
                n = struct.unpack_from("!H", buf, 2)[0]
                offset = 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n = struct.unpack_from("!Q", buf, 2)[0]
                offset = 10
            if b1 & 0x80:  # servers must not mask; tolerate it anyway
                mask = bytes(buf[offset : offset + 4])
                offset += 4
            else:
                mask = None
            if len(buf) < offset + n:
                return
            payload = bytes(buf[offset : offset + n])
            del buf[: offset + n]
            if mask is not None:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            opcode, fin = b0 & 0x0F, b0 & 0x80
            if opcode in (0x1, 0x2, 0x0):
                self.fragments.append(payload)
                if fin:
                    text = b"".join(self.fragments).decode("utf-8", "replace")
                    self.fragments.clear()
                    self._deliver(text)
            elif opcode == 0x9:  # ping
                self.transport.write(_frame(0xA, payload))
            elif opcode == 0x8:  # close: echo it and go
                code = struct.unpack_from("!H", payload)[0] if len(payload) >= 2 else 1005
                if not self.closed:
                    self.transport.write(_frame(0x8, payload[:2]))
                self._mark_closed(code)
                self.transport.close()
                return

    def _deliver(self, text: str) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            self.waiter = None
            waiter.set_result(text)
        else:
            self.messages.append(text)

    def _mark_closed(self, code: int) -> None:
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(Closed(code))

    # --- the interface --------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return not self.closed

    async def send(self, text: str) -> None:
        if self.closed:
            raise Closed(self.close_code)
        self.transport.write(_frame(0x1, text.encode()))

    async def recv(self) -> str:
        if self.messages:
            return self.messages.popleft()
        if self.closed:
            raise Closed(self.close_code)
        self.waiter = asyncio.get_running_loop().create_future()
        return await self.waiter

    async def close(self) -> None:
        if not self.closed and self.transport is not None:
            self.transport.write(_frame(0x8, struct.pack("!H", 1000)))
            self._mark_closed(1000)
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self._mark_closed(1006)
            self.transport.abort()


async def open_lean(
    url: str, subprotocol: str, timeout: float, local_host: str | None = None
) -> LeanConnection:
    """Open one connection; `local_host`: the source address to bind (127.0.0.x, so
    that more connections than one address has ephemeral ports reach one port)."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    loop = asyncio.get_running_loop()

    async def opening() -> LeanConnection:
        transport, protocol = await loop.create_connection(
            lambda: LeanConnection(f"{host}:{port}", path or "/", subprotocol),
            host,
            port,
            local_addr=(local_host, 0) if local_host else None,
        )
        try:
            await protocol.handshake
        except BaseException:
            transport.abort()
            raise
        return protocol

    return await asyncio.wait_for(opening(), timeout)


class WebsocketsConnection:
    """The `websockets` asyncio client behind the same interface."""

    def __init__(self, ws):
        self.ws = ws
        self.subprotocol = ws.subprotocol

    @property
    def is_open(self) -> bool:
        return self.ws.close_code is None and self.ws.state.name == "OPEN"

    @property
    def close_code(self):
        return self.ws.close_code

    async def send(self, text: str) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            await self.ws.send(text)
        except ConnectionClosed as exc:
            raise Closed(self.ws.close_code) from exc

    async def recv(self) -> str:
        from websockets.exceptions import ConnectionClosed

        try:
            return await self.ws.recv()
        except ConnectionClosed as exc:
            raise Closed(self.ws.close_code) from exc

    async def close(self) -> None:
        try:
            await self.ws.close()
        except Exception:
            pass

    def abort(self) -> None:
        if self.ws.transport is not None:
            self.ws.transport.abort()


async def open_websockets(url: str, subprotocol: str, timeout: float) -> WebsocketsConnection:
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    try:
        ws = await connect(
            url,
            subprotocols=[subprotocol],
            compression=None,
            open_timeout=timeout,
            ping_interval=None,
            close_timeout=2,
            max_queue=None,
            proxy=None,
            user_agent_header=None,
        )
    except InvalidStatus as exc:
        raise HandshakeFailed(exc.response.status_code) from exc
    return WebsocketsConnection(ws)


OPENERS = {"lean": open_lean, "websockets": open_websockets}

"""The drivers' live channel: WebSocket /ws/driver/ (docs/API.md, "Live session channel").

A driver's app opens it with its API token and is told about its own
sessions as they happen: a snapshot of the running ones at once, then
session.started, session.updated (energy, power, cost so far),
session.stopped and invoice.issued. Operators with the permission to view
transactions may follow every session instead (`?all=1`: lifecycle
messages only, see below).

- Authentication: the REST API's token classes (auth.py). Missing or
  invalid credentials: the socket is accepted and closed at once with code
  4401, which a browser app can read (a refused handshake only shows as a
  network error). Any Origin is allowed: no cookie is accepted.
- Resource bounds: at most DRIVER_LIVE_MAX_CONNECTIONS_PER_USER sockets per
  user and server process; a new one closes that user's oldest with 4429.
  Client messages are small (MAX_INBOUND_CHARS) and a snapshot is sent at
  most once every REFRESH_MIN_SECONDS on request.
- Liveness: Daphne's WebSocket pings (bin/run: every 20 s) drop dead
  peers; for clients that cannot see pings (browsers) the server sends
  {"type": "keepalive"} after DRIVER_LIVE_KEEPALIVE_SECONDS without any
  other message, and answers {"type": "ping"} with {"type": "pong"}. The
  token is checked again every REAUTH_SECONDS: a deleted token or a
  deactivated account is closed with 4401.
- Delivery: pushes of domain events (push.py) through the channel-layer
  group of the user, and this process's poller (hub.py); a message already
  sent on this socket is never sent again (Ledger). Without the channel
  layer the socket stays open and the poller goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict
from functools import partial

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils.translation import gettext as _

from ..channel_health import ResilientChannelReceiveMixin, health, layer_call, layer_unreachable
from .auth import query_params, scope_authenticate
from .hub import DriverHub, all_snapshot, hub, user_snapshot
from .metrics import LIVE_CONNECTIONS, LIVE_MESSAGES, LIVE_REFUSALS
from .push import user_group
from .watchers import ALL, registry

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MANY = 4429
REAUTH_SECONDS = 300.0
REFRESH_MIN_SECONDS = 5.0
MAX_INBOUND_CHARS = 4096
# Sessions whose messages a socket remembers, to drop repeats.
LEDGER_SIZE = 1024
ALL_PERMISSION = "stations.view_transaction"


class _Recent(OrderedDict):
    """At most LEDGER_SIZE keys; the oldest go first."""

    def remember(self, key, value=True) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > LEDGER_SIZE:
            self.popitem(last=False)


class Ledger:
    """What one socket has told, so that a push and the poller never repeat each other."""

    def __init__(self) -> None:
        self.started, self.stopped, self.invoiced, self.told = _Recent(), _Recent(), _Recent(), {}

    def admit(self, message: dict) -> bool:
        kind, pk = message.get("type"), message.get("transaction")
        if kind == "session.started":
            if pk in self.started or pk in self.stopped:
                return False
            self.started.remember(pk)
        elif kind == "session.updated":
            figures = (message["energy_wh"], message["power_w"], message["cost_so_far"])
            if pk in self.stopped or self.told.get(pk) == figures:
                return False
            self.told[pk] = figures
        elif kind == "session.stopped":
            if pk in self.stopped:
                return False
            self.stopped.remember(pk)
            self.told.pop(pk, None)
        elif kind == "invoice.issued":
            if message["invoice"] in self.invoiced:
                return False
            self.invoiced.remember(message["invoice"])
        return True

    def snapshot_sent(self, entries: list[dict]) -> None:
        for entry in entries:
            self.started.remember(entry["transaction"])
            self.told[entry["transaction"]] = (
                entry["energy_wh"],
                entry["power_w"],
                entry["cost_so_far"],
            )


def _user_for(scope: dict, *, all_sessions: bool) -> tuple[object | None, str]:
    """The user of the handshake and, if refused, why ("unauthenticated", "forbidden")."""
    user = scope_authenticate(scope)
    if user is None:
        return None, "unauthenticated"
    if all_sessions and not (user.is_staff and user.has_perm(ALL_PERMISSION)):
        return user, "forbidden"
    return user, ""


class DriverLiveConsumer(ResilientChannelReceiveMixin, AsyncWebsocketConsumer):
    user_id: int = 0
    follows_own = True
    joined = False  # counted in the hub and the registry, until disconnect
    closing = False  # the server closed it: nothing more is sent
    in_group = False
    _hub: DriverHub | None = None
    _housekeeper: asyncio.Task | None = None

    async def connect(self):
        self.ledger = Ledger()
        self._last_sent = time.monotonic()
        self._last_snapshot = float("-inf")
        self.follows_own = query_params(self.scope).get("all") not in ("1", "true")
        user, refusal = await database_sync_to_async(_user_for)(
            self.scope, all_sessions=not self.follows_own
        )
        await self.accept()
        if refusal:
            LIVE_REFUSALS.labels(refusal).inc()
            code = CLOSE_UNAUTHENTICATED if refusal == "unauthenticated" else CLOSE_FORBIDDEN
            await self._close(code)
            return
        self.user_id = user.pk
        self.watch_key = self.user_id if self.follows_own else ALL
        await self._join_group()
        registry.add(self.watch_key)
        self._hub = hub()
        evicted = self._hub.join(self, limit=settings.DRIVER_LIVE_MAX_CONNECTIONS_PER_USER)
        self.joined = True
        LIVE_CONNECTIONS.inc()
        for old in evicted:
            await old.close_for_limit()
        try:
            await self._send_snapshot()
        except Exception:  # the database failed: the app reconnects later
            logger.exception("driver live: no snapshot for user %s", self.user_id)
            await self._close(1011)
            return
        self._housekeeper = asyncio.get_running_loop().create_task(self._housekeeping())

    async def _close(self, code: int) -> None:
        self.closing = True
        await self.close(code=code)

    async def disconnect(self, code):
        if not self.joined:
            return
        self.joined = False
        LIVE_CONNECTIONS.dec()
        if self._housekeeper is not None:
            self._housekeeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeper
        self._hub.leave(self)
        registry.remove(self.watch_key)
        if self.in_group and not health.is_down:
            discard = partial(self.channel_layer.group_discard, self._group(), self.channel_name)
            try:
                await layer_call("group discard", discard)
            except Exception as exc:  # the membership expires with the group
                if not layer_unreachable(exc):
                    raise

    async def close_for_limit(self) -> None:
        """Closed because the same user opened more sockets than allowed (the oldest goes)."""
        LIVE_REFUSALS.labels("too_many_connections").inc()
        self._hub.leave(self)
        await self._close(CLOSE_TOO_MANY)

    # --- what the client sends ---------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        content = None
        if text_data is not None and len(text_data) <= MAX_INBOUND_CHARS:
            with contextlib.suppress(ValueError):
                content = json.loads(text_data)
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ping":
            await self._send({"type": "pong"})
        elif kind == "refresh":
            if time.monotonic() - self._last_snapshot < REFRESH_MIN_SECONDS:
                await self._error("too_soon", _("A snapshot was sent moments ago."))
            else:
                await self._send_snapshot()
        elif content is None:
            await self._error("bad_message", _('Send small JSON objects with a "type".'))
        else:
            await self._error("unknown_type", _("Known types: ping, refresh."))

    # --- what the server tells ----------------------------------------------------

    async def driver_live_message(self, event):
        """A push (push.py) through the channel layer group."""
        await self._deliver(event["message"])

    async def hub_message(self, message: dict) -> None:
        """What this process's poller found (hub.py)."""
        await self._deliver(message)

    async def _deliver(self, message: dict) -> None:
        if not self.joined or self.closing or not self.ledger.admit(message):
            return
        if message.get("type") == "invoice.issued":
            message = {**message, "pdf_url": self._absolute(message["pdf_url"])}
        await self._send(message)

    async def _send(self, message: dict) -> None:
        if self.closing:
            return
        self._last_sent = time.monotonic()
        LIVE_MESSAGES.labels(message["type"]).inc()
        await self.send(text_data=json.dumps(message))

    async def _error(self, code: str, detail: str) -> None:
        await self._send({"type": "error", "code": code, "detail": detail})

    async def _send_snapshot(self) -> None:
        self._last_snapshot = time.monotonic()
        if self.follows_own:
            snapshot = await database_sync_to_async(user_snapshot)(
                user_id=self.user_id, now=time.monotonic()
            )
            self._hub.seed(snapshot.seeds)
        else:
            snapshot = await database_sync_to_async(all_snapshot)()
        self.ledger.snapshot_sent(snapshot.sessions)
        await self._send(
            {
                "type": "session.snapshot",
                "scope": "own" if self.follows_own else "all",
                "sessions": snapshot.sessions,
                "truncated": snapshot.truncated,
            }
        )

    def _absolute(self, path: str) -> str:
        """A path on this server as the URL the client reached it at (or CSMS_PUBLIC_URL)."""
        base = settings.CSMS_PUBLIC_URL.rstrip("/")
        if not base:
            headers = dict(self.scope.get("headers", ()))
            host = headers.get(b"host", b"").decode("latin-1")
            if not host and self.scope.get("server"):
                host = "{}:{}".format(*self.scope["server"])
            scheme = "https" if self.scope.get("scheme") == "wss" else "http"
            base = f"{scheme}://{host}" if host else ""
        return f"{base}{path}"

    # --- keep-alive and the token's validity ---------------------------------------------

    async def _housekeeping(self) -> None:
        keepalive = settings.DRIVER_LIVE_KEEPALIVE_SECONDS
        step = min(keepalive, REAUTH_SECONDS) if keepalive > 0 else REAUTH_SECONDS
        reauth_at = time.monotonic() + REAUTH_SECONDS
        while True:
            await asyncio.sleep(step)
            try:
                if time.monotonic() >= reauth_at:
                    reauth_at = time.monotonic() + REAUTH_SECONDS
                    if not await database_sync_to_async(self._still_allowed)():
                        LIVE_REFUSALS.labels("token_revoked").inc()
                        await self._close(CLOSE_UNAUTHENTICATED)
                        return
                if keepalive > 0 and time.monotonic() - self._last_sent >= keepalive:
                    await self._send({"type": "keepalive"})
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is down: keep the socket, ask again later
                logger.exception("driver live: housekeeping failed")

    def _still_allowed(self) -> bool:
        user, refusal = _user_for(self.scope, all_sessions=not self.follows_own)
        return user is not None and user.pk == self.user_id and not refusal

    # --- the channel layer --------------------------------------------------------------

    def _group(self) -> str:
        return user_group(self.watch_key)

    async def _join_group(self) -> bool:
        """Join the user's group; False while the layer is down (the poller still runs)."""
        if not health.may_try():
            return False
        try:
            join = partial(self.channel_layer.group_add, self._group(), self.channel_name)
            await layer_call("group add", join)
        except Exception as exc:
            if not layer_unreachable(exc):
                raise
            return False
        self.in_group = True
        return True

    async def channel_layer_unreachable(self, event):
        self.in_group = False  # a restarted Redis forgets the group

    async def channel_layer_restored(self, event):
        if self.joined and await self._join_group() and not self.follows_own:
            await self._send_snapshot()  # pushes were dropped meanwhile; drivers have the poller

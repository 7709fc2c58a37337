"""The live dashboard's WebSocket (/ws/dashboard/): staff only, server push.

The socket's query string is the page's (search, filters, page number of
the grid: monitoring.grid.GridForm). On connect it sends a snapshot; then
it forwards, of the changes that monitoring.live pushes to the "dashboard"
group, the cards its page shows or gains (monitoring.grid.GridView), reads
its page again at most every GRID_DELAY seconds when a change moved cards
across the page's edges, recounts the totals and problems at most every
SUMMARY_DELAY seconds while changes arrive, the money and running sessions
at most every MONEY_DELAY seconds while sessions start and end, and sends
a fresh snapshot every REFRESH_SECONDS (and once shortly after connecting,
when every process has noticed the new watcher), so that a lost push heals.

Without the channel layer (Redis down) the dashboard stays open: it says
{"type": "live", "state": "degraded"} (live updates paused; the periodic
snapshot goes on, it needs only the database), and once the layer is back it
joins the group again, says "live" and sends a fresh snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from functools import partial

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import QueryDict

from . import nodes
from .channel_health import ResilientChannelReceiveMixin, health, layer_call, layer_unreachable
from .grid import GridQuery, GridView
from .live import DASHBOARD_GROUP, WATCH_CACHE_SECONDS, forget_watchers
from .selectors import (
    dashboard_grid,
    dashboard_live_counts,
    dashboard_money_and_sessions,
    dashboard_snapshot,
)

logger = logging.getLogger(__name__)

SUMMARY_DELAY = 0.5
GRID_DELAY = 2.0
MONEY_DELAY = 5.0
REFRESH_SECONDS = 30.0


def _grid_query(scope) -> GridQuery:
    query_string = scope.get("query_string", b"").decode("latin-1")
    return GridQuery.from_params(QueryDict(query_string))


class DashboardConsumer(ResilientChannelReceiveMixin, AsyncJsonWebsocketConsumer):
    watching = False
    in_group = False
    _live_state = "live"  # what the browser assumes once the socket opens
    _refresher: asyncio.Task | None = None
    _summary_task: asyncio.Task | None = None
    _grid_task: asyncio.Task | None = None
    _money_task: asyncio.Task | None = None
    view: GridView

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_active or not user.is_staff:
            await self.close()  # refused: Daphne answers the handshake with 403
            return
        self.view = GridView(query=await database_sync_to_async(_grid_query)(self.scope))
        await self._join_group()
        await nodes.watchers_changed(+1, channel_name=self.channel_name)
        forget_watchers()
        self.watching = True
        await self.accept()
        await self._send_snapshot()
        if not self.in_group:
            await self._send_live_state()
        self._refresher = asyncio.get_running_loop().create_task(self._refresh_forever())

    async def disconnect(self, code):
        if not self.watching:
            return
        self.watching = False
        for task in (self._refresher, self._summary_task, self._grid_task, self._money_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.in_group and not health.is_down:
            try:
                await layer_call(
                    "group discard",
                    partial(self.channel_layer.group_discard, DASHBOARD_GROUP, self.channel_name),
                )
            except Exception as exc:  # the membership expires with the group
                if not layer_unreachable(exc):
                    raise
        await nodes.watchers_changed(-1, channel_name=self.channel_name)

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "refresh":
            await self._send_snapshot()

    # --- group events (monitoring.live) ---------------------------------------

    async def dashboard_charge_points(self, event):
        forward, reload = self.view.accept(event["charge_points"])
        if forward:
            await self.send_json({"type": "charge_points", "charge_points": forward})
        if reload:
            self._grid_task = self._soon(self._grid_task, self._send_grid)
        self._summary_task = self._soon(self._summary_task, self._send_summary)

    async def dashboard_resync(self, event):
        """Too many charge points changed at once to push them: read the page again."""
        self._grid_task = self._soon(self._grid_task, self._send_grid)
        self._summary_task = self._soon(self._summary_task, self._send_summary)

    async def dashboard_summary(self, event):
        """A session started, ended or was disputed: counts now, money a little later."""
        self._summary_task = self._soon(self._summary_task, self._send_summary)
        self._money_task = self._soon(self._money_task, self._send_money)

    # --- the channel layer's outages (channel_health) -------------------------

    async def channel_layer_unreachable(self, event):
        self.in_group = False  # a restarted Redis forgets the group
        await self._send_live_state()

    async def channel_layer_restored(self, event):
        if await self._join_group():
            await self._send_live_state()
            await self._send_snapshot()  # what was pushed meanwhile was dropped

    # --- helpers ----------------------------------------------------------------

    async def _join_group(self) -> bool:
        """Join the dashboards' group; False (live updates paused) while the layer is down."""
        if not health.may_try():
            return False
        try:
            join = partial(self.channel_layer.group_add, DASHBOARD_GROUP, self.channel_name)
            await layer_call("group add", join)
        except Exception as exc:
            if not layer_unreachable(exc):
                raise
            return False
        self.in_group = True
        return True

    async def _send_live_state(self) -> None:
        """Tell the browser whether live updates flow, when that changed."""
        state = "live" if self.in_group else "degraded"
        if state != self._live_state:
            self._live_state = state
            await self.send_json({"type": "live", "state": state})

    @staticmethod
    def _soon(task: asyncio.Task | None, send) -> asyncio.Task:
        """Run `send` unless it is already waiting to run (what it reads is read then)."""
        if task is None or task.done():
            return asyncio.get_running_loop().create_task(send())
        return task

    async def _send_summary(self) -> None:
        await asyncio.sleep(SUMMARY_DELAY)
        data = await database_sync_to_async(dashboard_live_counts)()
        await self.send_json({"type": "summary", **data})

    async def _send_grid(self) -> None:
        await asyncio.sleep(GRID_DELAY)
        data = await database_sync_to_async(dashboard_grid)(query=self.view.query)
        self.view.show(data["charge_points"], data["grid"])
        await self.send_json({"type": "grid", **data})

    async def _send_money(self) -> None:
        await asyncio.sleep(MONEY_DELAY)
        data = await database_sync_to_async(dashboard_money_and_sessions)()
        await self.send_json({"type": "money", **data})

    async def _send_snapshot(self) -> None:
        data = await database_sync_to_async(dashboard_snapshot)(grid=self.view.query)
        self.view.show(data["charge_points"], data["grid"])
        await self.send_json({"type": "snapshot", **data})

    async def _refresh_forever(self) -> None:
        # Other processes trust their "nobody watches" answer this long.
        await asyncio.sleep(WATCH_CACHE_SECONDS * 2)
        while True:
            try:
                if not self.in_group and await self._join_group():
                    await self._send_live_state()
                await self._send_snapshot()
                await nodes.watchers_changed(0, channel_name=self.channel_name)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("dashboard refresh failed")
            await asyncio.sleep(REFRESH_SECONDS)

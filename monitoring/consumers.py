"""The live dashboard's WebSocket (/ws/dashboard/): staff only, server push.

On connect it sends a snapshot; then it forwards the changes that
monitoring.live pushes to the "dashboard" group, recounts the totals at most
every SUMMARY_DELAY seconds while changes arrive, and sends a fresh
snapshot every REFRESH_SECONDS (and once shortly after connecting, when
every process has noticed the new watcher), so that a lost push heals.

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

from . import nodes
from .channel_health import ResilientChannelReceiveMixin, health, layer_call, layer_unreachable
from .live import DASHBOARD_GROUP, WATCH_CACHE_SECONDS, forget_watchers
from .selectors import dashboard_faults, dashboard_snapshot, dashboard_summary

logger = logging.getLogger(__name__)

SUMMARY_DELAY = 0.5
REFRESH_SECONDS = 30.0


def _summary_and_faults() -> dict:
    return {"summary": dashboard_summary(), "faults": dashboard_faults()}


class DashboardConsumer(ResilientChannelReceiveMixin, AsyncJsonWebsocketConsumer):
    watching = False
    in_group = False
    _live_state = "live"  # what the browser assumes once the socket opens
    _refresher: asyncio.Task | None = None
    _summary_task: asyncio.Task | None = None

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_active or not user.is_staff:
            await self.close()  # refused: Daphne answers the handshake with 403
            return
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
        for task in (self._refresher, self._summary_task):
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
        await self.send_json({"type": "charge_points", "charge_points": event["charge_points"]})
        self._summary_soon()

    async def dashboard_summary(self, event):
        self._summary_soon()

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

    def _summary_soon(self) -> None:
        if self._summary_task is None or self._summary_task.done():
            self._summary_task = asyncio.get_running_loop().create_task(self._send_summary())

    async def _send_summary(self) -> None:
        await asyncio.sleep(SUMMARY_DELAY)
        data = await database_sync_to_async(_summary_and_faults)()
        await self.send_json({"type": "summary", **data})

    async def _send_snapshot(self) -> None:
        data = await database_sync_to_async(dashboard_snapshot)()
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

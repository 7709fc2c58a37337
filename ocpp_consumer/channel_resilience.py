"""A charge point's channel-layer group, kept through outages of the layer.

A newer socket of the same charge point tells an older one, on any node, to
go: it sends "ocpp.replaced" to the group `charge_point_group(id)` and joins
it. That needs the channel layer, which charging does not: a handshake never
waits for it. The consumer tries once at connect (bounded by
channel_health.OPERATION_TIMEOUT) while the layer is up, and otherwise leaves
it to a background task that waits for the layer to return.

After an outage every consumer joins again (a restarted Redis has forgotten
the groups), spread over REJOIN_JITTER_SECONDS so that thousands of sockets
do not hit Redis at once, and then asks the database whether a newer socket
of the charge point connected meanwhile (its notice may have gone out before
this socket was back in the group): if so, it closes as replaced. The
connection time decides, not the channel on record, which any message of
the older socket writes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from datetime import datetime
from functools import partial

from channels.db import database_sync_to_async

from monitoring.channel_health import health, layer_call, layer_unreachable
from stations.selectors import chargepoint_get
from stations.services import chargepoint_touch

logger = logging.getLogger(__name__)

# Close code for a socket replaced by a newer connection of the same id.
CLOSE_REPLACED = 4001
REPLACED_EVENT = "ocpp.replaced"
REJOIN_JITTER_SECONDS = 1.0


class ChargePointGroupMixin:
    """Mixed into the consumer; needs `group_name`, `channel_name`, `charge_point_id`."""

    _group_task: asyncio.Task | None = None
    _replaced_notice_owed = False
    _connected_at: datetime | None = None

    async def group_join_on_connect(self, *, connected_at: datetime) -> None:
        """Tell an older socket to go and join the group: now if the layer answers, else later.

        `connected_at` is this socket's connection time as recorded.
        """
        self._connected_at = connected_at
        self._replaced_notice_owed = True
        if not await self._group_join_now():
            logger.info("%s connected while the channel layer is down", self.charge_point_id)
            self._group_join_later()

    async def group_leave(self) -> None:
        """On disconnect: stop joining, and leave the group if the layer answers."""
        if self._group_task is not None:
            self._group_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._group_task
        if health.is_down:
            return  # the membership expires with the group
        try:
            await layer_call(
                "group discard",
                partial(self.channel_layer.group_discard, self.group_name, self.channel_name),
            )
        except Exception as exc:
            if not layer_unreachable(exc):
                logger.warning("could not leave group of %s", self.charge_point_id, exc_info=True)

    async def ocpp_replaced(self, event):
        if event["channel"] != self.channel_name:
            logger.info(
                "charge point %s reconnected elsewhere: closing old socket", self.charge_point_id
            )
            await self.close(code=CLOSE_REPLACED)

    # --- the channel layer's outages (monitoring.channel_health) ------------------

    async def channel_layer_unreachable(self, event):
        logger.debug("%s: channel layer unreachable, socket stays open", self.charge_point_id)

    async def channel_layer_restored(self, event):
        self._group_join_later()

    # --- helpers -----------------------------------------------------------------

    async def _group_join_now(self) -> bool:
        if not health.may_try():  # down: one caller of the process tries now and then
            return False
        try:
            if self._replaced_notice_owed:
                notice = {"type": REPLACED_EVENT, "channel": self.channel_name}
                await layer_call(
                    "group send", partial(self.channel_layer.group_send, self.group_name, notice)
                )
                self._replaced_notice_owed = False
            await layer_call(
                "group add",
                partial(self.channel_layer.group_add, self.group_name, self.channel_name),
            )
        except Exception as exc:
            if not layer_unreachable(exc):
                raise
            return False
        return True

    def _group_join_later(self) -> None:
        if self._group_task is None or self._group_task.done():
            self._group_task = asyncio.get_running_loop().create_task(self._group_join_when_up())

    async def _group_join_when_up(self) -> None:
        try:
            while True:
                await health.wait_up()
                await asyncio.sleep(random.uniform(0, REJOIN_JITTER_SECONDS))
                if await self._group_join_now():
                    break
            await self._close_if_taken_over()
        except asyncio.CancelledError:
            raise
        except Exception:  # never the socket's end: the next outage's end tries again
            logger.exception("%s could not join its group again", self.charge_point_id)

    async def _close_if_taken_over(self) -> None:
        charge_point = await database_sync_to_async(chargepoint_get)(
            charge_point_id=self.charge_point_id
        )
        if charge_point is None or self._connected_at is None:
            return
        if charge_point.connected_at and charge_point.connected_at > self._connected_at:
            logger.info(
                "charge point %s reconnected elsewhere while the channel layer was down: "
                "closing old socket",
                self.charge_point_id,
            )
            await self.close(code=CLOSE_REPLACED)
        elif charge_point.connection_channel != self.channel_name:
            # The newest socket: any message of an older one, still open while
            # the layer was down, recorded that one as the charge point's.
            await database_sync_to_async(chargepoint_touch)(
                charge_point_pk=charge_point.pk, channel_name=self.channel_name
            )

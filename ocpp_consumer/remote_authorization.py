"""Before an id tag is decided: let remote authorities refresh it, within a deadline.

drivers.remote_authorities explains the hook. Here the adapter's side: the
call runs in a worker thread of its own (not the shared one the other
database work of the consumers uses, which a slow partner would stall),
and the charger's answer never waits longer than the authorities' deadline:
past it the tag is decided from the record as it stands. A tag no
authority may decide (our own drivers' tags, as the authorities know from
memory) costs neither the thread nor a query.
"""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async

from drivers.remote_authorities import (
    idtag_remote_refresh,
    remote_authorities_concerned,
    remote_deadline_seconds,
)

logger = logging.getLogger(__name__)

_refresh = database_sync_to_async(idtag_remote_refresh, thread_sensitive=False)


async def idtag_refresh_before_deciding(*, charge_point_pk: int, id_tag: str | None) -> None:
    if not id_tag or not remote_authorities_concerned(id_tag):
        return
    try:
        await asyncio.wait_for(
            _refresh(id_tag=id_tag, charge_point_pk=charge_point_pk),
            timeout=remote_deadline_seconds(),
        )
    except TimeoutError:
        logger.warning("Remote authorization of an id tag took too long: decided locally")

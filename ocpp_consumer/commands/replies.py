"""The wake-up that tells a waiting caller its command has ended: a Redis list per command.

Why not a channel-layer message: channels-redis receives all of a process's
specific channels one message at a time under one lock, with four Redis
round trips each (a cleanup script, BZPOPMIN, a backup ZADD, and a ZPOPMIN
that the next receive waits for). With tens of commands in flight their
replies queued there: a third of a command's time across two nodes
(bench/results/2026-12-06-command-*.md). Here the consumer pushes to the
caller's own key (LPUSH and EXPIRE in one round trip) and each caller
blocks on its key alone (BLPOP), so replies never wait for each other. A
reply pushed before the caller blocks waits in the list.

The consumer records the outcome on the Command row first, then pushes it:
the reply carries the fields it just committed (records.command_outcome_reply),
so the caller need not read the row back; an empty reply means "read the
row". The caller also checks the row every second, so a lost reply (Redis
away) costs at most that second.

Protocol between nodes (they may run different releases during an upgrade):
the command event names the key in `reply_key`, next to `reply_to`. A
consumer of the previous release ignores `reply_key` and sends its reply to
`reply_to`, a channel nobody reads (it expires in Redis): its caller finds
the outcome in the row within a second. A caller of the previous release
sends no `reply_key` and gets its reply on `reply_to` as before. With the
in-process layer (no Redis) the channel layer carries the reply.
"""

from __future__ import annotations

import json
import uuid

from channels.layers import BaseChannelLayer

# How long an unread reply stays in Redis (the caller waits at most its
# timeout plus delivery.REPLY_MARGIN; a caller that gave up never reads it).
REPLY_TTL_SECONDS = 600
# The non-specific channel named in `reply_to` for consumers of the previous
# release: never received, so it holds no process's receive lock.
UNREAD_REPLY_CHANNEL_PREFIX = "commandreply."


def reply_lists_supported(layer: BaseChannelLayer | None) -> bool:
    """Whether this layer reaches Redis (channels-redis): the caller can wait on a list."""
    return callable(getattr(layer, "connection", None)) and callable(
        getattr(layer, "consistent_hash", None)
    )


def reply_key_new(layer) -> str:
    """A key of its own for one command's reply, under the layer's prefix."""
    return f"{layer.prefix}command-reply:{uuid.uuid4().hex}"


def unread_reply_channel() -> str:
    return f"{UNREAD_REPLY_CHANNEL_PREFIX}{uuid.uuid4().hex}"


def _client(layer, key: str):
    # channels-redis's own client: its pools are per event loop and closed with it.
    return layer.connection(layer.consistent_hash(key))


async def reply_push(layer, key: str, outcome: dict) -> None:
    """Wake the caller waiting on `key` (one round trip). Raises the client's errors.

    `outcome`: the fields committed on the row (records.command_outcome_reply),
    or {} to have the caller read the row.
    """
    async with _client(layer, key).pipeline(transaction=False) as pipe:
        pipe.lpush(key, json.dumps(outcome))
        pipe.expire(key, REPLY_TTL_SECONDS)
        await pipe.execute()


async def reply_wait(layer, key: str, timeout: float) -> dict | None:
    """The reply within `timeout` seconds (None: not yet). Raises the client's errors."""
    # BLPOP takes fractional seconds (Redis >= 6); 0 would mean "forever".
    # The list held one entry: Redis drops it once popped.
    popped = await _client(layer, key).blpop([key], timeout=max(timeout, 0.01))
    if popped is None:
        return None
    try:
        reply = json.loads(popped[1])
    except ValueError:
        return {}  # not ours to read: the row holds the outcome
    return reply if isinstance(reply, dict) else {}

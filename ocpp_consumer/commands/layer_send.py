"""A command event onto the consumer's channel in one Redis round trip (channels-redis).

channels-redis 4 sends with four round trips in a row (drop expired
messages, count against the capacity, ZADD, EXPIRE); on an API node whose
event loop also serves the requests, each one waits for its turn on the
loop, and together they were a tenth of a command's time at 10 in flight
(bench/results/2026-12-06-command-*.md). The script below does the same
four steps, atomically, in one round trip, on the same key, with the same
serialization, so the consumer's ordinary `receive` takes the message as
if `layer.send` had put it there. Any other layer (or a channels-redis
whose layout this module does not know) gets a plain `layer.send`.
"""

from __future__ import annotations

import time

from channels.exceptions import ChannelFull

# KEYS[1] the channel's sorted set; ARGV: expired-before score, capacity,
# score (now), the serialized message, expiry in seconds.
_SEND_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[1])
if redis.call('ZCOUNT', KEYS[1], '-inf', '+inf') >= tonumber(ARGV[2]) then
    return 0
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""
_LAYOUT = ("serialize", "non_local_name", "consistent_hash", "get_capacity", "connection")
_SENDING = ("send", "serialize", "non_local_name", "consistent_hash", "get_capacity")


def one_trip_supported(layer) -> bool:
    """channels-redis's RedisChannelLayer, whose message layout the script repeats.

    A subclass qualifies when it sends and serializes as channels-redis does
    (csms_project.channel_layers.LeanRedisChannelLayer changes only receiving).
    """
    core = next(
        (
            cls
            for cls in type(layer).__mro__
            if cls.__module__ == "channels_redis.core" and cls.__name__ == "RedisChannelLayer"
        ),
        None,
    )
    return (
        core is not None
        and all(getattr(type(layer), name) is getattr(core, name) for name in _SENDING)
        and all(callable(getattr(layer, name, None)) for name in _LAYOUT)
    )


async def layer_send_one_trip(layer, channel: str, message: dict) -> None:
    """`layer.send(channel, message)`, in one round trip on channels-redis."""
    if not one_trip_supported(layer) or "!" not in channel:
        await layer.send(channel, message)
        return
    # A process-specific channel, as channels-redis stores it: the full name
    # inside the message, the message in the sorted set of the process's prefix.
    message = {**message, "__asgi_channel__": channel}
    key = layer.prefix + layer.non_local_name(channel)
    client = layer.connection(layer.consistent_hash(channel))
    now = time.time()
    stored = await client.eval(
        _SEND_SCRIPT,
        1,
        key,
        int(now) - int(layer.expiry),
        layer.get_capacity(channel),
        now,
        layer.serialize(message),
        int(layer.expiry),
    )
    if not stored:
        raise ChannelFull()

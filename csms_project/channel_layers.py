"""channels-redis with a lighter receive for the sockets a process holds (issue 22).

channels-redis receives every process-local channel ("specific.<client>!<id>",
one per WebSocket) through one shared BZPOPMIN, but each waiting `receive()`
costs two asyncio Tasks (a lock acquire and a get on its own asyncio.Queue),
the Queue with its four deques and Event, and an `asyncio.wait` around them:
about a third of what an idle charge point cost the server
(bench/results/PROFILE.md, "Memory per idle connection").

`LeanRedisChannelLayer` keeps everything channels-redis does on the wire
(the same keys, BZPOPMIN with the backup queue, group sends, capacity and
expiry) and replaces only that waiting: one reader task per process pops the
process's messages and resolves the waiting channel's future, and
`receive_future(channel)` gives that future to callers that can wait on a
future without a task of their own (monitoring.channel_health's consumers).
A message for a channel with nobody waiting is buffered (at most `capacity`
per channel, the oldest dropped, as channels-redis does) until its next
receive; the buffer goes with the channel's last waiter. When the pop fails
(Redis unreachable) every waiting receive gets the error, as they would in
turn with channels-redis, and the next receive starts a new reader.
"""

from __future__ import annotations

import asyncio
from collections import deque

from channels_redis.core import RedisChannelLayer


class LeanRedisChannelLayer(RedisChannelLayer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._reset_local_receive(None)

    def _reset_local_receive(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self._local_loop = loop
        self._waiters: dict[str, asyncio.Future] = {}
        self._buffers: dict[str, deque] = {}
        self._reader: asyncio.Task | None = None

    async def receive(self, channel):
        if "!" not in channel:
            return await super().receive(channel)
        return await self.receive_future(channel)

    def receive_future(self, channel: str) -> asyncio.Future:
        """A future of the next message on a process-local channel (one waiter per channel)."""
        assert self.require_valid_channel_name(channel)
        assert "!" in channel, "only process-local channels"
        loop = asyncio.get_running_loop()
        if self._local_loop is None:
            self._local_loop = loop
        elif self._local_loop is not loop:  # a new loop (tests): the old one's state is dead
            if not self._local_loop.is_closed() and self._waiters:
                raise RuntimeError(
                    "Two event loops are trying to receive() on one channel layer at once!"
                )
            self._reset_local_receive(loop)
        future = loop.create_future()
        buffered = self._buffers.get(channel)
        if buffered:
            future.set_result(buffered.popleft())
            if not buffered:
                del self._buffers[channel]
            return future
        earlier = self._waiters.get(channel)
        if earlier is not None and not earlier.done():
            raise RuntimeError(f"two receives wait on channel {channel} at once")
        self._waiters[channel] = future
        future.add_done_callback(lambda done: self._waiter_done(channel, done))
        if self._reader is None or self._reader.done():
            self._reader = loop.create_task(self._read_local(self.non_local_name(channel)))
        return future

    def _waiter_done(self, channel: str, future: asyncio.Future) -> None:
        if self._waiters.get(channel) is future:
            del self._waiters[channel]
        if future.cancelled():  # the consumer is gone: so is what waited for it
            self._buffers.pop(channel, None)

    async def _read_local(self, real_channel: str) -> None:
        """Pop this process's messages while anyone waits, and hand them over."""
        while self._waiters:
            try:
                message_channel, message = await self.receive_single(real_channel)
            except Exception as exc:
                waiters, self._waiters = self._waiters, {}
                for future in waiters.values():
                    if not future.done():
                        future.set_exception(exc)
                return
            for channel in (
                message_channel if isinstance(message_channel, list) else [message_channel]
            ):
                self._deliver(channel, message)

    def _deliver(self, channel: str, message: dict) -> None:
        future = self._waiters.pop(channel, None)
        if future is not None and not future.done():
            future.set_result(message)
            return
        buffer = self._buffers.get(channel)
        if buffer is None:
            buffer = self._buffers[channel] = deque()
        elif len(buffer) >= self.capacity:
            buffer.popleft()  # a consumer that stopped reading: drop, not grow
        buffer.append(message)

    async def flush(self):
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()
        for future in self._waiters.values():
            future.cancel()
        self._reset_local_receive(None)
        await super().flush()

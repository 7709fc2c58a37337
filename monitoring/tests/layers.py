"""A channel layer that can be switched off, as a Redis that stops answering."""

from __future__ import annotations

import asyncio

from channels.layers import BaseChannelLayer, InMemoryChannelLayer
from redis.exceptions import ConnectionError as RedisConnectionError


class SwitchableLayer(BaseChannelLayer):
    """The in-memory layer, failing like channels-redis while `down`.

    Going down fails the receives already waiting ("Connection closed by
    server", as when redis-server stops) and every later call at once
    (connection refused). `probe` answers like the readiness check.
    """

    extensions = ["groups", "flush"]

    def __init__(self):
        super().__init__()
        self.inner = InMemoryChannelLayer()
        self.down = False
        self._went_down: asyncio.Event | None = None

    def stop(self) -> None:
        self.down = True
        if self._went_down is not None:
            self._went_down.set()

    def start(self) -> None:
        self.down = False
        self._went_down = None

    def _check(self) -> None:
        if self.down:
            raise RedisConnectionError(
                "Error 111 connecting to 127.0.0.1:6379. Connection refused."
            )

    async def probe(self) -> None:
        self._check()

    async def new_channel(self, prefix="specific."):
        return await self.inner.new_channel(prefix)

    async def send(self, channel, message):
        self._check()
        await self.inner.send(channel, message)

    async def group_send(self, group, message):
        self._check()
        await self.inner.group_send(group, message)

    async def group_add(self, group, channel):
        self._check()
        await self.inner.group_add(group, channel)

    async def group_discard(self, group, channel):
        self._check()
        await self.inner.group_discard(group, channel)

    async def flush(self):
        await self.inner.flush()

    async def receive(self, channel):
        self._check()
        if self._went_down is None:
            self._went_down = asyncio.Event()
        receiving = asyncio.ensure_future(self.inner.receive(channel))
        going_down = asyncio.ensure_future(self._went_down.wait())
        try:
            done, _ = await asyncio.wait(
                {receiving, going_down}, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            going_down.cancel()
            if not receiving.done():
                receiving.cancel()
        if receiving in done:
            return receiving.result()
        raise RedisConnectionError("Connection closed by server.")

    def members(self, group: str) -> set[str]:
        return set(self.inner.groups.get(group, {}))


async def receives_survive_a_redis_restart(layer, redis, receivers, receive, timeout) -> None:
    """Waiting receives hear of a stopped redis-server once, wait without asking it,
    and receive again once it is back (for any layer on `redis`, a private one).

    `receive(receiver)` is one receive of a consumer's channel side, through
    monitoring.channel_health's resilient receive.
    """
    from monitoring import channel_health

    def receive_all():
        return [asyncio.ensure_future(receive(receiver)) for receiver in receivers]

    pending = receive_all()
    await asyncio.sleep(0.3)  # channels-redis: one blocks in BZPOPMIN, the others on its lock
    redis.stop()
    lost = await asyncio.wait_for(asyncio.gather(*pending), timeout)
    assert [m["type"] for m in lost] == [channel_health.UNREACHABLE_EVENT] * len(receivers)

    pending = receive_all()
    await asyncio.sleep(1.0)
    assert not any(task.done() for task in pending)  # waiting, not hammering Redis
    redis.start()
    back = await asyncio.wait_for(asyncio.gather(*pending), timeout)
    assert [m["type"] for m in back] == [channel_health.RESTORED_EVENT] * len(receivers)

    pending = receive_all()
    for number, receiver in enumerate(receivers):
        await layer.send(receiver.channel_name, {"type": "hello", "number": number})
    received = await asyncio.wait_for(asyncio.gather(*pending), timeout)
    assert [m["number"] for m in received] == list(range(len(receivers)))

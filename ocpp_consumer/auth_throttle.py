"""Slow down password guessing at the handshake without locking out the real charger.

Two counters of failed handshakes within OCPP_AUTH_FAILURE_WINDOW seconds:

- per source address (an IPv6 address counts as its /64, what one host
  usually holds): at OCPP_AUTH_FAILURE_LIMIT that address is refused (429)
  for every id. A guesser is stopped; the charger, at another address, is not.
- per charge point id (case-insensitive), from all addresses: at
  OCPP_AUTH_FAILURE_ID_LIMIT the id is under a spread-out attack, and from
  then on an address with even one recent failure is refused for it. Each
  address of a botnet gets one guess per window, while an address with no
  recent failure, such as the real charger's, is always let through to the
  password check. Counting refusals per id alone would let anyone keep a
  station offline by failing on purpose: it never refuses a clean address.

With REDIS_URL the counts are shared by every process of the cluster
(sorted sets of failure times, trimmed to the window, expiring with it).
Each process also counts what it sees: when Redis cannot be reached the
throttle falls back to those counts for a few seconds and never raises or
waits long, so a Redis outage does not stop charge points from connecting.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass

from django.conf import settings
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from stations.models.validators import charge_point_id_canonical

logger = logging.getLogger(__name__)

# A dead or unreachable Redis must not slow handshakes down: short timeouts,
# no retries, and after a failure local counts only for this long.
REDIS_TIMEOUT = 0.5
REDIS_RETRY_AFTER = 5.0
# Sweep expired local windows once this many keys accumulate (many addresses).
LOCAL_SWEEP_KEYS = 10_000


def address_key(address: str) -> str:
    """The unit an address is throttled as: an IPv6 /64, an IPv4 address, else as is."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 4:
        return str(parsed)
    if parsed.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is 192.0.2.1
        return str(parsed.ipv4_mapped)
    return str(ipaddress.ip_network(f"{parsed}/64", strict=False))


@dataclass(frozen=True)
class _Keys:
    address: str
    charge_point: str

    @classmethod
    def of(cls, *, address: str, charge_point_id: str) -> _Keys:
        return cls(
            address=f"address:{address_key(address)}",
            charge_point=f"charge-point:{charge_point_id_canonical(charge_point_id)}",
        )


class _LocalCounts:
    """Failure times per key in this process (monotonic clock)."""

    def __init__(self) -> None:
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._sweep_at = LOCAL_SWEEP_KEYS

    def count(self, key: str, *, window: float) -> int:
        if key not in self._failures:
            return 0
        times = self._failures[key]
        cutoff = time.monotonic() - window
        while times and times[0] <= cutoff:
            times.popleft()
        if not times:
            del self._failures[key]
        return len(times)

    def add(self, *keys: str, window: float) -> None:
        now = time.monotonic()
        for key in keys:
            self._failures[key].append(now)
        if len(self._failures) > self._sweep_at:
            for key in list(self._failures):
                self.count(key, window=window)
            # Sweep again only after the live keys doubled: linear time overall.
            self._sweep_at = max(LOCAL_SWEEP_KEYS, 2 * len(self._failures))

    def clear(self) -> None:
        self._failures.clear()


class _RedisCounts:
    """Failure times per key in Redis, shared by all processes (wall clock)."""

    def __init__(self) -> None:
        self._client_of: tuple[asyncio.AbstractEventLoop, str, Redis] | None = None
        self._unavailable_until = 0.0
        self._closing: set[asyncio.Task] = set()

    def _client(self):
        """A client of this event loop (redis.asyncio connections belong to one loop)."""
        loop, url = asyncio.get_running_loop(), settings.REDIS_URL
        if self._client_of is None or self._client_of[:2] != (loop, url):
            client = Redis.from_url(
                url,
                socket_timeout=REDIS_TIMEOUT,
                socket_connect_timeout=REDIS_TIMEOUT,
                retry=Retry(NoBackoff(), 0),
            )
            self._client_of = (loop, url, client)
        return self._client_of[2]

    @property
    def enabled(self) -> bool:
        return bool(settings.REDIS_URL) and time.monotonic() >= self._unavailable_until

    @staticmethod
    def _name(key: str) -> str:
        layer_config = settings.CHANNEL_LAYERS.get("default", {}).get("CONFIG", {})
        return f"{layer_config.get('prefix', 'csms')}:handshake-failures:{key}"

    async def counts(self, *keys: str, window: float) -> list[int] | None:
        """Recent failures per key, or None when Redis cannot answer now."""

        async def read():
            pipe = self._client().pipeline(transaction=False)
            since = time.time() - window
            for key in keys:
                pipe.zcount(self._name(key), f"({since}", "+inf")
            return [int(n) for n in await pipe.execute()]

        return await self._attempt(read)

    async def add(self, *keys: str, window: float) -> None:
        async def write():
            pipe = self._client().pipeline(transaction=True)
            now = time.time()
            for key in keys:
                name = self._name(key)
                pipe.zadd(name, {f"{now}:{uuid.uuid4().hex[:8]}": now})
                pipe.zremrangebyscore(name, "-inf", now - window)
                pipe.expire(name, max(1, int(window) + 1))
            await pipe.execute()

        await self._attempt(write)

    async def _attempt(self, operation):
        if not self.enabled:
            return None
        try:
            return await asyncio.wait_for(operation(), timeout=2 * REDIS_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - fail open: local counts decide
            self._unavailable_until = time.monotonic() + REDIS_RETRY_AFTER
            self._discard_client()
            logger.warning(
                "handshake throttle: Redis unavailable (%s), counting in this process for %.0f s",
                type(exc).__name__,
                REDIS_RETRY_AFTER,
            )
            return None

    def _discard_client(self) -> None:
        """Start afresh after a failure (a cancelled pipeline may leave a connection dirty)."""
        if self._client_of is not None:
            loop, _, client = self._client_of
            self._client_of = None
            if not loop.is_closed():
                task = loop.create_task(client.aclose())
                self._closing.add(task)  # asyncio keeps only weak references to tasks
                task.add_done_callback(self._closed)

    def _closed(self, task: asyncio.Task) -> None:
        self._closing.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a failed close of a dead client is expected

    def reset(self) -> None:
        self._client_of = None
        self._unavailable_until = 0.0


class HandshakeThrottle:
    """Count failed handshakes; say whether a new one must be refused before checking."""

    def __init__(self) -> None:
        self.local = _LocalCounts()
        self.shared = _RedisCounts()

    async def refusal(self, *, address: str, charge_point_id: str) -> str | None:
        """Why this handshake is refused without a password check, or None."""
        keys = _Keys.of(address=address, charge_point_id=charge_point_id)
        window = settings.OCPP_AUTH_FAILURE_WINDOW
        counts = [self.local.count(key, window=window) for key in (keys.address, keys.charge_point)]
        shared = await self.shared.counts(keys.address, keys.charge_point, window=window)
        if shared is not None:  # a restarted Redis knows less than this process
            counts = [max(pair) for pair in zip(counts, shared, strict=True)]
        address_failures, charge_point_failures = counts
        if address_failures >= settings.OCPP_AUTH_FAILURE_LIMIT:
            return "too many failed handshakes from this address"
        if address_failures and charge_point_failures >= settings.OCPP_AUTH_FAILURE_ID_LIMIT:
            return "this id is under a guessing attack and this address has failed before"
        return None

    async def failed(self, *, address: str, charge_point_id: str) -> None:
        keys = _Keys.of(address=address, charge_point_id=charge_point_id)
        window = settings.OCPP_AUTH_FAILURE_WINDOW
        self.local.add(keys.address, keys.charge_point, window=window)
        await self.shared.add(keys.address, keys.charge_point, window=window)

    def clear(self) -> None:
        """Forget this process's counts (tests; Redis keys expire with the window)."""
        self.local.clear()
        self.shared.reset()


throttle = HandshakeThrottle()

"""Who follows the live channel, so that nobody pays for pushes nobody reads.

A domain event is turned into a driver's message only while that driver
(or an operator following every session, `ALL`) has a socket open
somewhere. The question "is anyone watching?" is asked inside the
transaction of a charge point's message (the subscriber's `wanted`), so it
reads memory only (but for the first time in a process, see below).

- Sockets of this process are counted here, exactly.
- With the Redis channel layer, a sorted set in Redis
  (`{CHANNEL_LAYER_PREFIX}:driver-live:watched`, member: user id or "all",
  score: when the entry expires) tells every process of the cluster who is
  watching. One daemon thread per process does that I/O: it publishes this
  process's watchers (at once for a new one, every PUBLISH_SECONDS for
  all) and reads, every READ_SECONDS, whether the set holds anyone. Only
  the first question of a process reads Redis itself, once, before the
  thread starts (bounded by REDIS_TIMEOUT). A closed socket's entry is
  never removed, it expires after TTL_SECONDS: another process may still
  hold a socket of the same user.
  When Redis cannot be reached, the other processes count as not watching
  (pushes would be dropped anyway) and the thread backs off.
- With the in-process layer a push cannot reach another process anyway, so
  this process's sockets are all that counts.

Exactly who is watched (`watched_among`) is asked off the hot path, by the
push worker, after it has found the owners of a session.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter

from django.conf import settings
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

# Stands for "every session" (an operator's `?all=1`); user ids start at 1.
ALL = 0
TTL_SECONDS = 60.0
PUBLISH_SECONDS = 20.0
READ_SECONDS = 1.0
REDIS_TIMEOUT = 0.5
RETRY_AFTER_SECONDS = 5.0


def _member(user_id: int) -> str:
    return "all" if user_id == ALL else str(user_id)


def _shared_redis_url() -> str:
    """REDIS_URL when the channel layer is Redis (pushes cross processes), else ""."""
    backend = settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", "")
    return settings.REDIS_URL if settings.REDIS_URL and "redis" in backend.lower() else ""


def _key() -> str:
    config = settings.CHANNEL_LAYERS.get("default", {}).get("CONFIG", {})
    return f"{config.get('prefix', 'csms')}:driver-live:watched"


class WatcherRegistry:
    """This process's watchers, and (with Redis) whether anyone in the cluster watches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local: Counter[int] = Counter()
        self._fresh: set[int] = set()  # newly watched here: to publish at once
        self._anyone_remote = False
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._thread_pid: int | None = None
        self._client: tuple[str, Redis] | None = None
        self._stopped = False

    # --- sockets of this process ------------------------------------------------

    def add(self, user_id: int) -> None:
        with self._lock:
            self._local[user_id] += 1
            if self._local[user_id] == 1:
                self._fresh.add(user_id)
        self._ensure_thread()
        self._wake.set()

    def remove(self, user_id: int) -> None:
        with self._lock:
            self._local[user_id] -= 1
            if self._local[user_id] <= 0:
                del self._local[user_id]
                self._fresh.discard(user_id)

    def local(self) -> frozenset[int]:
        with self._lock:
            return frozenset(self._local)

    # --- the questions ------------------------------------------------------------

    def anyone(self) -> bool:
        """Whether anyone watches, here or (as last read) anywhere: memory only."""
        if self._local:
            return True
        self._ensure_thread(prime=True)
        return self._anyone_remote

    def watched_among(self, user_ids: set[int]) -> set[int]:
        """Which of these users (or ALL) have a socket open; may ask Redis (not on a hot path)."""
        here = {user_id for user_id in user_ids if user_id in self._local}
        rest = sorted(user_ids - here)
        if not rest or not self._anyone_remote or not _shared_redis_url():
            return here
        try:
            pipe = self._redis().pipeline(transaction=False)
            for user_id in rest:
                pipe.zscore(_key(), _member(user_id))
            scores = pipe.execute()
        except Exception as exc:  # noqa: BLE001 - the layer is likely down too: nothing to push
            logger.debug("driver live: watchers unknown (%r)", exc)
            return here
        now = time.time()
        return here | {u for u, score in zip(rest, scores, strict=True) if score and score > now}

    # --- the thread that talks to Redis ---------------------------------------

    def _ensure_thread(self, *, prime: bool = False) -> None:
        """Start the Redis thread of this process; `prime`: read once before, here."""
        if self._stopped or not _shared_redis_url():
            return
        pid = os.getpid()
        if self._thread is not None and self._thread_pid == pid and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._thread_pid == pid and self._thread.is_alive():
                return
            self._client = None  # a forked child never shares its parent's connections
            self._thread_pid = pid
            if prime:  # never on the event loop (add): only where `wanted` is asked
                self._prime()
            self._thread = threading.Thread(
                target=self._run, name="driver-live-watchers", daemon=True
            )
            self._thread.start()

    def _prime(self) -> None:
        """The first answer of a process, read at once (one call, REDIS_TIMEOUT at most):
        the first event after a start must not be taken for unwatched."""
        try:
            self._anyone_remote = self._exchange(set(), now=time.time())
        except Exception as exc:  # noqa: BLE001 - the thread retries
            logger.debug("driver live: Redis unreachable for the watchers (%r)", exc)
            self._client = None

    def _redis(self) -> Redis:
        url = _shared_redis_url()
        if self._client is None or self._client[0] != url:
            client = Redis.from_url(
                url,
                socket_timeout=REDIS_TIMEOUT,
                socket_connect_timeout=REDIS_TIMEOUT,
                retry=Retry(NoBackoff(), 0),
            )
            self._client = (url, client)
        return self._client[1]

    def _run(self) -> None:
        published_at = 0.0
        while _shared_redis_url() and not self._stopped:
            now = time.time()
            with self._lock:
                if now - published_at >= PUBLISH_SECONDS:
                    publish, published_at = set(self._local), now
                else:
                    publish = set(self._fresh)
                self._fresh.clear()
            try:
                anyone = self._exchange(publish, now=now)
                with self._lock:
                    ours = set(self._local)
                if not anyone and ours:
                    # Our own watchers are gone from the set: Redis was emptied or restarted
                    # between two rounds (no error seen here). Publish them again now.
                    anyone = self._exchange(ours, now=now)
                    published_at = now
                self._anyone_remote = anyone
                pause = READ_SECONDS
            except Exception as exc:  # noqa: BLE001 - Redis down: nobody elsewhere, retry later
                self._anyone_remote = False
                self._client = None
                with self._lock:
                    self._fresh |= publish & set(self._local)
                published_at = 0.0
                logger.debug("driver live: Redis unreachable for the watchers (%r)", exc)
                pause = RETRY_AFTER_SECONDS
            self._wake.wait(pause)
            self._wake.clear()

    def _exchange(self, publish: set[int], *, now: float) -> bool:
        """Publish these watchers, drop expired ones, and say whether anyone is left."""
        pipe = self._redis().pipeline(transaction=False)
        key = _key()
        if publish:
            pipe.zadd(key, {_member(user_id): now + TTL_SECONDS for user_id in publish})
            pipe.expire(key, int(TTL_SECONDS) * 2)
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zcard(key)
        return bool(pipe.execute()[-1])

    def stop(self) -> None:
        """End the thread (tests: a registry standing for another process)."""
        self._stopped = True
        self._wake.set()

    def reset(self) -> None:
        """Forget every watcher of this process (tests)."""
        with self._lock:
            self._local.clear()
            self._fresh.clear()
            self._anyone_remote = False


registry = WatcherRegistry()

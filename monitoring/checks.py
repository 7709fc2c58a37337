"""Readiness checks: what /readyz reports, component by component.

Each check is a coroutine that returns a dict of details (possibly empty)
when the component answers, and raises when it does not. Two kinds:

- REQUIRED: the database, the channel layer and the broker. A failure makes
  /readyz answer 503 (the contract: a load balancer takes the node out).
  Without the database charging cannot work at all; without the channel
  layer or the broker charging goes on but commands, live pushes and queued
  work cannot be routed.
- ADVISORY: live Celery workers and the outbox lag. A failure makes the node
  "degraded" with 200: charging works, invoices and sweeps are delayed, and
  taking every ASGI node out of rotation would only stop charging too.

No check shares anything with the consumers: the channel layer is probed on
a short-lived Redis connection of its own (the layer's receive path holds a
lock while connected consumers wait for messages, so a probe through it
waited seconds), and the database on a thread and connection of its own (the
consumers queue their ORM calls on Channels' single sync thread).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from celery import current_app
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import InMemoryChannelLayer, channel_layers, get_channel_layer
from channels_redis.utils import create_pool, decode_hosts
from django.conf import settings
from django.db import close_old_connections, connection

from . import selectors

CHECK_TIMEOUT = 3.0
# The Redis probe's own timeouts: well under CHECK_TIMEOUT, so that a host
# that swallows packets is reported as such rather than as a timeout.
REDIS_PROBE_TIMEOUT = 2.0

Details = dict
Check = Callable[[], Awaitable[Details | None]]


class Degraded(Exception):
    """An advisory component is behind: reported, but the node stays in rotation."""

    def __init__(self, problem: str, details: Details | None = None):
        super().__init__(problem)
        self.details = details or {}


def _off_the_consumers_thread(func):
    """Run `func` on a pool thread with its own connection, closed afterwards."""

    def run():
        close_old_connections()
        try:
            return func()
        finally:
            connection.close()

    return sync_to_async(run, thread_sensitive=False)


# --- required -------------------------------------------------------------------


def _database() -> Details:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


async def check_database() -> Details:
    return await _off_the_consumers_thread(_database)()


async def _ping_redis_host(host: dict) -> None:
    """PING one host of the layer on a connection of our own, then close it."""
    options = {
        **host,
        "max_connections": 1,
        "socket_timeout": REDIS_PROBE_TIMEOUT,
        "socket_connect_timeout": REDIS_PROBE_TIMEOUT,
        "retry_on_timeout": False,
    }
    client = aioredis.Redis(connection_pool=create_pool(options))
    try:
        if not await client.ping():
            raise ConnectionError("Redis did not answer PING")
    finally:
        await client.aclose(close_connection_pool=True)


def _redis_hosts(layer) -> list[dict]:
    """The Redis servers of a channels-redis layer (core or pub/sub), else []."""
    # Subclasses too (csms_project.channel_layers.LeanRedisChannelLayer).
    if not any(cls.__module__.startswith("channels_redis") for cls in type(layer).__mro__):
        return []
    config = settings.CHANNEL_LAYERS[DEFAULT_CHANNEL_LAYER].get("CONFIG", {})
    return decode_hosts(config.get("hosts"))


async def check_channel_layer() -> Details:
    """The layer's servers answer; never through the layer's shared receive path."""
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    if isinstance(layer, InMemoryChannelLayer):
        return {"backend": "in-memory"}  # lives in this process: up while it is
    hosts = _redis_hosts(layer)
    if hosts:
        await asyncio.gather(*(_ping_redis_host(host) for host in hosts))
        return {"backend": "redis", "hosts": len(hosts)}
    # Another backend: a round trip on a layer instance of its own (never
    # the process's, whose receive path the consumers hold).
    probe = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    channel = await probe.new_channel("readyz.")
    await probe.send(channel, {"type": "readyz.ping"})
    message = await probe.receive(channel)
    if message.get("type") != "readyz.ping":
        raise RuntimeError("channel layer returned a different message")
    return {"backend": type(layer).__name__}


def _broker() -> Details:
    # The project's Celery app: importing csms_project made it the current one.
    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT)
        return {"transport": conn.transport_cls}


async def check_broker() -> Details:
    return await sync_to_async(_broker, thread_sensitive=False)()


# --- advisory -------------------------------------------------------------------


def _workers() -> Details:
    health = selectors.worker_health()
    details = {"alive": health.alive, "last_seen": selectors.iso(health.last_seen)}
    if not health.alive:
        raise Degraded(health.problem, details)
    return details


async def check_workers() -> Details:
    return await _off_the_consumers_thread(_workers)()


def _outbox() -> Details:
    lag = selectors.outbox_lag()
    details = {
        "pending": lag.pending,
        "oldest_pending_seconds": round(lag.oldest_seconds, 1),
        "threshold_seconds": lag.threshold_seconds,
    }
    if lag.late:
        raise Degraded(lag.problem, details)
    return details


async def check_outbox() -> Details:
    return await _off_the_consumers_thread(_outbox)()


CHECKS: dict[str, Check] = {
    "database": check_database,
    "channel_layer": check_channel_layer,
    "broker": check_broker,
    "workers": check_workers,
    "outbox": check_outbox,
}
# What makes /readyz answer 503; the others only make it "degraded".
REQUIRED = frozenset({"database", "channel_layer", "broker"})
# What a failure means, for the humans reading the body.
IMPACT = {
    "database": "charging stops: no message can be persisted",
    "channel_layer": "charging goes on; commands and live dashboard pushes cannot be routed",
    "broker": "charging goes on; invoices and sweeps wait until it is back",
    "workers": "charging goes on; invoices and sweeps wait until a worker runs",
    "outbox": "charging goes on; domain events (invoices) are delivered late",
}


async def _timed(name: str, check: Check) -> dict:
    loop = asyncio.get_running_loop()
    started = loop.time()
    details: Details = {}
    state, error = "ok", None
    try:
        details = await asyncio.wait_for(check(), CHECK_TIMEOUT) or {}
    except Degraded as exc:
        state, error, details = "degraded", str(exc), exc.details
    except Exception as exc:  # any failure means "does not answer"
        state = "fail"
        error = f"{type(exc).__name__}: {exc}"[:300] or type(exc).__name__
    if state != "ok" and name not in REQUIRED:
        state = "degraded"
    result = {
        "ok": state == "ok",
        "state": state,
        "required": name in REQUIRED,
        "latency_ms": round((loop.time() - started) * 1000, 2),
        "error": error,
    }
    if state != "ok":
        result["impact"] = IMPACT.get(name, "")
    return {**details, **result}


async def run_checks() -> dict[str, dict]:
    """Every check at once, each bounded by CHECK_TIMEOUT."""
    names = list(CHECKS)
    results = await asyncio.gather(*(_timed(name, CHECKS[name]) for name in names))
    return dict(zip(names, results, strict=True))


def readiness(components: dict[str, dict]) -> tuple[dict, int]:
    """The /readyz body and status code from the components' results.

    503 ("fail") when a REQUIRED component fails; 200 with "degraded" when
    only advisory ones do; 200 "ok" otherwise. "charging" tells humans
    whether charge points are served at all (the database answers).
    """
    failing = [n for n, r in components.items() if not r["ok"] and r["required"]]
    degraded = [n for n, r in components.items() if not r["ok"] and not r["required"]]
    status = "fail" if failing else ("degraded" if degraded else "ok")
    body = {
        "status": status,
        "charging": components.get("database", {}).get("ok", False),
        "failing": failing,
        "degraded": degraded,
        "components": components,
    }
    return body, 503 if failing else 200

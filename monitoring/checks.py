"""Readiness checks: each returns None when healthy or an error text."""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from celery import current_app
from channels.layers import get_channel_layer
from django.db import connection

CHECK_TIMEOUT = 3.0


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


async def check_database() -> None:
    await sync_to_async(_database)()


async def check_channel_layer() -> None:
    """Send a message to a fresh channel and read it back."""
    layer = get_channel_layer()
    channel = await layer.new_channel("readyz.")
    await layer.send(channel, {"type": "readyz.ping"})
    message = await layer.receive(channel)
    if message.get("type") != "readyz.ping":
        raise RuntimeError("channel layer returned a different message")


def _broker() -> None:
    # The project's Celery app: importing csms_project made it the current one.
    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT)


async def check_broker() -> None:
    await sync_to_async(_broker, thread_sensitive=False)()


CHECKS = {
    "database": check_database,
    "channel_layer": check_channel_layer,
    "broker": check_broker,
}


async def run_checks() -> dict[str, dict]:
    async def timed(check):
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await asyncio.wait_for(check(), CHECK_TIMEOUT)
            error = None
        except Exception as exc:  # any failure means "not ready"
            error = f"{type(exc).__name__}: {exc}"[:300] or type(exc).__name__
        latency_ms = round((loop.time() - started) * 1000, 2)
        return {"ok": error is None, "latency_ms": latency_ms, "error": error}

    results = await asyncio.gather(*(timed(check) for check in CHECKS.values()))
    return dict(zip(CHECKS, results, strict=False))

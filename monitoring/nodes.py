"""This process in the service registry: who it is, and its heartbeat.

Daphne has no ASGI lifespan, so an ASGI process cannot learn "I started" from
the protocol. It runs Twisted's asyncio reactor, though, always (it installs
it before loading the application): `csms_project.asgi` calls
`start_with_daphne()`, which asks the reactor (`callWhenRunning`, public
Twisted API) to start the heartbeat task on its event loop once it runs. The
node thus registers at start, before any request, and a process that serves
nothing still shows; pytest and management commands import the same module
but never run the reactor, so they start nothing. A clean exit (SIGTERM)
marks the node stopped (atexit); a killed one goes stale and shows dead.

Every ASGI node, after each of its beats, also sweeps the nodes that died
(services.node_sweep_lost): the charge points a killed process held go
offline and its unfinished commands end, within
MONITORING_NODE_DEAD_AFTER_SECONDS plus one beat, with or without a Celery
worker. The beat interval must stay well below the dead-after time.

A Celery worker registers on `worker_ready` and beats from a daemon thread,
whatever its pool (see monitoring.signals).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import socket
import sys
import threading
import uuid
from dataclasses import dataclass

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import close_old_connections, connection

from . import services
from .models import NodeKind, heartbeat_seconds
from .selectors import channel_client_prefix, channel_stem

logger = logging.getLogger(__name__)


@dataclass
class ThisNode:
    node_id: str
    kind: str
    hostname: str
    pid: int
    channel_stem: str = ""
    watchers: int = 0

    @property
    def channel_prefix(self) -> str:
        return channel_client_prefix(self.channel_stem)


_current: ThisNode | None = None
_lock = threading.Lock()
_asgi_task: asyncio.Task | None = None
_celery_beat: _ThreadBeat | None = None


def current(kind: str = NodeKind.ASGI, name: str = "") -> ThisNode:
    """This process's identity (a fresh one after a fork)."""
    global _current
    with _lock:
        if _current is None or _current.pid != os.getpid():
            hostname = socket.gethostname()
            label = name or hostname
            node_id = f"{kind}-{label}-{os.getpid()}-{uuid.uuid4().hex[:8]}"[:120]
            _current = ThisNode(node_id=node_id, kind=kind, hostname=hostname, pid=os.getpid())
        return _current


def local_watchers() -> int:
    """Live dashboards this process serves right now (no query)."""
    node = _current
    return node.watchers if node is not None and node.pid == os.getpid() else 0


def node_register_sync(node: ThisNode) -> None:
    services.node_register(
        node_id=node.node_id,
        kind=node.kind,
        hostname=node.hostname,
        pid=node.pid,
        channel_prefix=node.channel_prefix,
    )


def node_beat_sync(node: ThisNode) -> None:
    """One heartbeat; registers again if the registry lost the row."""
    updated = services.node_beat(
        node_id=node.node_id, channel_stem=node.channel_stem, dashboard_watchers=node.watchers
    )
    if not updated:
        node_register_sync(node)
        services.node_beat(
            node_id=node.node_id, channel_stem=node.channel_stem, dashboard_watchers=node.watchers
        )


def _beat_and_close(node: ThisNode) -> None:
    """A beat, then the sweep of dead nodes, from a pool thread; no idle connection left."""
    try:
        node_beat_sync(node)
        try:
            services.node_sweep_lost()
        except Exception:  # the next beat sweeps again; the beat itself counted
            logger.exception("sweep of dead nodes by %s failed", node.node_id)
    finally:
        connection.close()


def node_stop_sync(node_id: str) -> None:
    try:
        services.node_stop(node_id=node_id)
    except Exception:  # exiting: the node simply goes stale
        logger.warning("could not mark node %s stopped", node_id, exc_info=True)


# --- ASGI processes -------------------------------------------------------------


async def asgi_heartbeat(node: ThisNode, interval: float | None = None) -> None:
    """Register, then beat every `interval` seconds until cancelled; never raises."""
    interval = heartbeat_seconds() if interval is None else interval
    layer = get_channel_layer()
    if layer is not None and not node.channel_stem:
        node.channel_stem = channel_stem(await layer.new_channel())
    # Its own thread: the heartbeat never waits behind the consumers' ORM calls.
    beat = database_sync_to_async(_beat_and_close, thread_sensitive=False)
    while True:
        try:
            await beat(node)
        except Exception:
            logger.exception("node heartbeat of %s failed", node.node_id)
        await asyncio.sleep(interval)


def _start_asgi_heartbeat() -> None:
    global _asgi_task
    if _asgi_task is not None:
        return
    node = current(NodeKind.ASGI)
    _asgi_task = asyncio.get_running_loop().create_task(asgi_heartbeat(node))
    atexit.register(node_stop_sync, node.node_id)
    logger.info("node %s registered", node.node_id)


def start_with_daphne() -> bool:
    """Start the heartbeat once Daphne's reactor runs; False where there is no reactor."""
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is None or not hasattr(reactor, "callWhenRunning"):
        return False
    # callLater(0): the callback then runs inside the running asyncio loop.
    reactor.callWhenRunning(lambda: reactor.callLater(0, _start_asgi_heartbeat))
    return True


async def watchers_changed(delta: int, *, channel_name: str) -> None:
    """Count an opened (+1) or closed (-1) live dashboard of this process, at once."""
    node = current(NodeKind.ASGI)
    node.watchers = max(0, node.watchers + delta)
    if not node.channel_stem:
        node.channel_stem = channel_stem(channel_name)
    await database_sync_to_async(_write_watchers)(node)


def _write_watchers(node: ThisNode) -> None:
    if not services.node_set_watchers(node_id=node.node_id, dashboard_watchers=node.watchers):
        node_register_sync(node)
        services.node_set_watchers(node_id=node.node_id, dashboard_watchers=node.watchers)


# --- Celery workers -------------------------------------------------------------


class _ThreadBeat(threading.Thread):
    """A Celery worker's heartbeat: a daemon thread with its own DB connection."""

    def __init__(self, node: ThisNode, interval: float):
        super().__init__(name="csms-node-heartbeat", daemon=True)
        self.node, self.interval = node, interval
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            while True:
                close_old_connections()
                try:
                    node_beat_sync(self.node)
                except Exception:
                    logger.exception("node heartbeat of %s failed", self.node.node_id)
                if self.stopping.wait(self.interval):
                    return
        finally:
            connection.close()


def start_celery_heartbeat(*, worker_name: str, interval: float | None = None) -> ThisNode:
    global _celery_beat
    node = current(NodeKind.CELERY, name=worker_name)
    if _celery_beat is None or not _celery_beat.is_alive():
        _celery_beat = _ThreadBeat(node, heartbeat_seconds() if interval is None else interval)
        _celery_beat.start()
    return node


def stop_celery_heartbeat() -> None:
    global _celery_beat
    if _celery_beat is None:
        return
    _celery_beat.stopping.set()
    _celery_beat.join(timeout=5)
    _celery_beat = None
    node_stop_sync(current(NodeKind.CELERY).node_id)

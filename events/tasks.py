"""Celery tasks of the outbox: the periodic relay and the purge of handled messages."""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import timedelta

from celery import shared_task
from django.conf import settings

from .relay import outbox_purge, outbox_relay

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def relay_outbox() -> int:
    """Deliver due domain events (beat: every EVENTS_RELAY_INTERVAL s, and when nudged)."""
    return outbox_relay().handled


@shared_task(ignore_result=True)
def purge_outbox() -> int:
    """Delete handled messages past EVENTS_RETENTION_HOURS (beat: hourly)."""
    return outbox_purge(older_than=timedelta(hours=settings.EVENTS_RETENTION_HOURS))


class _Nudger:
    """Queues one relay run at a time from a thread of its own.

    Publishing can block for seconds while the broker is down (kombu retries
    the connection); a commit hook on a thread that answers charge points
    must not wait for that. Nudges that arrive meanwhile are merged into one.
    """

    def __init__(self):
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._pid: int | None = None

    def nudge(self) -> None:
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked child
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="outbox-nudger", daemon=True).start()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            try:
                relay_outbox.apply_async(retry=False, expires=settings.EVENTS_RELAY_INTERVAL * 6)
            except Exception as exc:  # the periodic relay comes anyway
                logger.warning("outbox: could not queue a relay run: %r", exc)
                time.sleep(1.0)  # a dead broker is not asked again at once


_nudger = _Nudger()


def relay_outbox_nudge() -> None:
    """Have a worker run the relay soon (in-process at once when tasks run eagerly)."""
    if relay_outbox.app.conf.task_always_eager:
        relay_outbox.apply()
        return
    _nudger.nudge()

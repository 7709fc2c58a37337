"""Celery hooks: the worker's place in the service registry, and task outcome metrics."""

from __future__ import annotations

import time

from celery.signals import task_postrun, task_prerun, worker_ready, worker_shutdown

from . import nodes
from .metrics import CELERY_TASK_SECONDS, CELERY_TASKS

# task id -> start (monotonic); popped when the task ends.
_started: dict[str, float] = {}


@worker_ready.connect
def register_worker(sender=None, **kwargs) -> None:
    nodes.start_celery_heartbeat(worker_name=getattr(sender, "hostname", "") or "celery")


@worker_shutdown.connect
def unregister_worker(sender=None, **kwargs) -> None:
    nodes.stop_celery_heartbeat()


@task_prerun.connect
def task_started(task_id=None, **kwargs) -> None:
    if task_id:
        _started[task_id] = time.monotonic()


@task_postrun.connect
def task_finished(task_id=None, task=None, state=None, **kwargs) -> None:
    name = getattr(task, "name", None) or "unknown"
    CELERY_TASKS.labels(name, state or "UNKNOWN").inc()
    started = _started.pop(task_id, None) if task_id else None
    if started is not None:
        CELERY_TASK_SECONDS.labels(name).observe(time.monotonic() - started)

"""Who reacts to domain events: the subscribers named in settings.EVENT_SUBSCRIBERS.

A subscriber is declared where its code lives (billing invoices, monitoring
pushes dashboards and counts metrics) and listed, by dotted path, in the
settings: the domain that records events never imports its subscribers, and
the list of who reacts to what is in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class Event:
    """A recorded event as a subscriber sees it."""

    id: int | None  # None: served from memory, never written to the outbox
    kind: str
    payload: dict
    created_at: datetime


@dataclass(frozen=True)
class Subscriber:
    """A reaction to some kinds of events; `handle` must be idempotent.

    - inline: handled right after the commit by the process that recorded
      the event, from memory (cheap, live reactions: no row is written unless
      that delivery fails; then the relay retries it). A process that dies
      between its commit and this delivery loses the reaction, so only what
      is live and self-healing may be inline (a dashboard push, a counter of
      this process); what a customer or partner relies on is durable.
    - max_age_seconds: an event older than this is dropped, not delivered
      (a live view has been refreshed since).
    - wanted: asked when an event is recorded; False records nothing for this
      subscriber (no dashboard open: nothing to push).
    - nudge: called after a commit that recorded events for this (not inline)
      subscriber, to have the relay run soon; a failing nudge only delays.
    - failed: called after a failed attempt, outside the rolled-back handler,
      to show the failure where operators look.
    """

    name: str
    kinds: frozenset[str]
    handle: Callable[[Event], None]
    inline: bool = False
    max_age_seconds: float | None = None
    wanted: Callable[[], bool] | None = None
    nudge: Callable[[], None] | None = None
    failed: Callable[[Event, Exception], None] | None = None


@cache
def subscribers() -> dict[str, Subscriber]:
    """The configured subscribers by name (loaded once per process)."""
    loaded = [import_string(path) for path in settings.EVENT_SUBSCRIBERS]
    return {subscriber.name: subscriber for subscriber in loaded}


@cache
def subscribers_of(kind: str) -> tuple[Subscriber, ...]:
    return tuple(s for s in subscribers().values() if kind in s.kinds)


def _reload(*, setting: str, **kwargs) -> None:
    if setting == "EVENT_SUBSCRIBERS":
        subscribers.cache_clear()
        subscribers_of.cache_clear()


setting_changed.connect(_reload)

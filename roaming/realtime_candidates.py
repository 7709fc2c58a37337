"""Which id tags real-time authorization may concern, known in each process without a query.

The OCPP adapter asks the remote authorities (drivers.remote_authorities)
about every Authorize and start of every charger. Answering "surely not
a partner's asked token" from memory spares our own drivers' tags, and
every tag while no partner's token is asked in real time, a thread hop and
a query.

The set holds the id tag values (upper-cased, as the lookup compares them)
of the valid tokens of registered partners whose whitelist is asked in real
time (NEVER, ALLOWED_OFFLINE). It is loaded by the refresh itself, in its
worker thread (one query), and trusted for CANDIDATES_TTL_SECONDS. A write
of a token or a partner in this process drops it at once and again after
its commit. A write in another process is seen here within the TTL: until
then a token newly asked in real time is decided from its stored record, as
when its partner cannot be asked. A tag in the set is checked against the
tokens as before, so a set that holds too much only costs that check.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.db import transaction

from .choices import PartyStatus
from .models import RoamingToken

ASKED_WHITELISTS = ("NEVER", "ALLOWED_OFFLINE")
CANDIDATES_TTL_SECONDS = 10.0


@dataclass(frozen=True)
class _Loaded:
    id_tags: frozenset[str]
    until: float


_loaded: _Loaded | None = None
# Bumped by every drop: a load that began before a drop does not keep its (older) set.
_generation = 0


def idtag_may_be_asked(id_tag: str) -> bool:
    """From memory: False when the tag is surely no asked token's; True when unsure."""
    loaded = _loaded
    if loaded is None or time.monotonic() >= loaded.until:
        return True
    return _key(id_tag) in loaded.id_tags


def idtag_asked_candidate(id_tag: str) -> bool:
    """Like idtag_may_be_asked, loading the set first when it is not fresh (a query)."""
    loaded = _loaded
    if loaded is None or time.monotonic() >= loaded.until:
        loaded = _load()
    return _key(id_tag) in loaded.id_tags


def realtime_candidates_drop(**_signal) -> None:
    global _loaded, _generation
    _generation += 1
    _loaded = None


def realtime_candidates_drop_on_write(*, using=None, **_signal) -> None:
    """Signal receiver: a token or a partner changed (now, and once its commit is visible)."""
    realtime_candidates_drop()
    transaction.on_commit(realtime_candidates_drop, using=using)


def _load() -> _Loaded:
    global _loaded
    generation = _generation
    started = time.monotonic()
    values = RoamingToken.objects.filter(
        valid=True,
        whitelist__in=ASKED_WHITELISTS,
        partner__status=PartyStatus.REGISTERED,
        id_tag__isnull=False,
    ).values_list("id_tag__id_tag", flat=True)
    loaded = _Loaded(frozenset(_key(value) for value in values), started + CANDIDATES_TTL_SECONDS)
    if generation == _generation:
        _loaded = loaded
    return loaded


def _key(id_tag: str) -> str:
    return id_tag.upper()

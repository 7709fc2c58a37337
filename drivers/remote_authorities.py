"""Remote authorities: other systems that decide some id tags each time they are used.

The domain decides an id tag from its own records (drivers.selectors.idtag_authorize).
Some tags belong to another system that wants to be asked at every use (a
roaming partner's real-time authorization). Such a system registers an
authority here at start-up; the protocol adapter calls `idtag_remote_refresh`
before the domain's decision, outside any database transaction and with a
deadline (`remote_deadline_seconds`), so that the authority brings the tag's
record (its status) up to date. The decision then reads the record as
usual: the domain knows no remote system, and one that is slow or down
never holds a lock nor keeps a charger waiting past the deadline.

An authority is called as authority(id_tag=..., charge_point_pk=...); it
returns nothing, must not raise for a remote failure (it falls back to the
record as it is) and must bound its own remote calls by its timeout.

Most id tags concern no authority (our own drivers' tags), and the adapter
asks for every Authorize and start of every charger: an authority may give
`may_decide(id_tag) -> bool`, answered from memory (no query, no I/O: it
runs on the adapter's event loop). False means the authority surely leaves
that tag alone, and `remote_authorities_concerned` lets the adapter skip the
thread and the queries; when unsure, it answers True.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

RemoteAuthority = Callable[..., None]
IdTagFilter = Callable[[str], bool]


@dataclass(frozen=True)
class _Registered:
    name: str
    authority: RemoteAuthority
    timeout_seconds: float
    may_decide: IdTagFilter | None

    def concerned_by(self, id_tag: str) -> bool:
        if self.may_decide is None:
            return True
        try:
            return bool(self.may_decide(id_tag))
        except Exception:  # unsure: asking costs time, skipping could authorize wrongly
            logger.exception("Remote authority %s could not tell whether it decides", self.name)
            return True


_authorities: dict[str, _Registered] = {}


def remote_authority_register(
    name: str,
    authority: RemoteAuthority,
    *,
    timeout_seconds: float,
    may_decide: IdTagFilter | None = None,
) -> None:
    """Add (or replace, by name) an authority asked before id tags are decided."""
    _authorities[name] = _Registered(name, authority, timeout_seconds, may_decide)


def remote_authorities_concerned(id_tag: str) -> bool:
    """Whether some authority may want to refresh `id_tag` (from memory: no query)."""
    return any(entry.concerned_by(id_tag) for entry in tuple(_authorities.values()))


def remote_deadline_seconds() -> float:
    """How long the adapter waits for the authorities at most (their timeouts, and a margin)."""
    return sum(entry.timeout_seconds for entry in _authorities.values()) + 0.5


def idtag_remote_refresh(*, id_tag: str, charge_point_pk: int) -> None:
    """Let each authority update the record of `id_tag` before it is decided at that charger."""
    for entry in tuple(_authorities.values()):
        if not entry.concerned_by(id_tag):
            continue
        try:
            entry.authority(id_tag=id_tag, charge_point_pk=charge_point_pk)
        except Exception:  # an authority's bug must not stop charging: the record decides
            logger.exception("Remote authority %s failed for an id tag", entry.name)

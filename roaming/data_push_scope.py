"""Which locations a data push run builds for a partner: what may differ from its copy.

Building a location (roaming.locations) is the cost of a run, so a run
builds only the published locations that may differ from what a partner
holds:

- those whose station, charge points or connectors were saved since the
  partner's mark (their `updated_at`), less a margin for transactions that
  committed late and clocks that differ between servers;
- those the partner has no copy of, and those whose copy has other EVSEs
  than the station has now (a charge point or connector deleted, or moved
  to another station, changes no row of this one);
- all of them when the partner has no mark, when the tariffs in force
  changed (a connector's tariff_ids move with them, by the clock too), and
  once every FULL_BUILD_SECONDS (an edit that bypassed `updated_at`, in a
  shell or a migration, reaches partners within that time).

Copies of locations no longer published cost no building (they are withdrawn).

A partner's mark is the start of its last run that brought every copy up to
date (nothing rejected, the partner reachable, time left); a run that did
not keeps the mark it had, so what failed is built again. Marks are kept per
process (the worker that runs the task): a worker that starts builds
everything once. The copies stay the truth of what a partner has: a mark
only decides what is worth comparing with them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from stations.choices import RegistrationStatus
from stations.models import ChargePoint, Connector, Station

from .locations import TariffChooser, stations_published
from .models import PushedCopy

# Saved this long before a partner's mark still counts as changed (late commits, clock skew).
CHANGE_MARGIN = timedelta(minutes=5)
# Every location is built again at least this often, whatever the marks say.
FULL_BUILD_SECONDS = 3600
REMOVED = "REMOVED"


@dataclass(frozen=True)
class PartnerMark:
    """Every change saved before `since` is in the partner's copies (tariffs: `tariffs`)."""

    since: datetime
    tariffs: tuple
    full_at: datetime


_marks: dict[int, PartnerMark] = {}


def partner_mark(party_pk: int) -> PartnerMark | None:
    return _marks.get(party_pk)


def partner_mark_set(party_pk: int, *, run_started: datetime, tariffs: tuple, full: bool) -> None:
    """The run that started at `run_started` brought every copy of the partner up to date."""
    previous = _marks.get(party_pk)
    full_at = run_started if full or previous is None else previous.full_at
    _marks[party_pk] = PartnerMark(run_started - CHANGE_MARGIN, tariffs, full_at)


def partner_marks_clear() -> None:
    _marks.clear()


def tariffs_in_force(chooser: TariffChooser) -> tuple:
    """What decides the tariff_ids of every connector: the tariffs in force and their scope."""
    return tuple(
        sorted(
            (t.pk, t.station_id, t.charge_point_id, t.connector_id, t.priority)
            for t in chooser.tariffs
        )
    )


def published_evses() -> dict[str, frozenset[str]]:
    """Every published location's id with the uids of its EVSEs (stations.locations' rule)."""
    evses: dict[str, set[str]] = {
        str(pk): set() for pk in stations_published().values_list("pk", flat=True)
    }
    rows = Connector.objects.filter(
        connector_id__gt=0,
        charge_point__registration_status=RegistrationStatus.ACCEPTED,
        charge_point__station__in=stations_published(),
    ).values_list("pk", "charge_point__station_id")
    for connector_pk, station_pk in rows:
        evses[str(station_pk)].add(str(connector_pk))
    return {location_id: frozenset(uids) for location_id, uids in evses.items()}


def locations_changed_since(since: datetime) -> set[str]:
    """Ids of the stations whose own row, charge points or connectors were saved since."""
    changed = set(Station.objects.filter(updated_at__gte=since).values_list("pk", flat=True))
    changed.update(
        ChargePoint.objects.filter(updated_at__gte=since, station__isnull=False).values_list(
            "station_id", flat=True
        )
    )
    changed.update(
        Connector.objects.filter(
            updated_at__gte=since, charge_point__station__isnull=False
        ).values_list("charge_point__station_id", flat=True)
    )
    return {str(pk) for pk in changed}


def copies_of(party_pk: int) -> dict[tuple[str, str], PushedCopy]:
    return {(c.module, c.object_id): c for c in PushedCopy.objects.filter(party_id=party_pk)}


@dataclass(frozen=True)
class PartnerScope:
    """The location ids a run compares for one partner, and whether that was all of them."""

    location_ids: frozenset[str]
    full: bool


def partner_scope(
    *,
    mark: PartnerMark | None,
    copied: dict[str, dict],
    published: dict[str, frozenset[str]],
    tariffs: tuple,
    run_started: datetime,
) -> PartnerScope:
    """The locations to compare with the partner's copies `copied` (location id: body)."""
    withdrawn = {location_id for location_id in copied if location_id not in published}
    full = (
        mark is None
        or mark.tariffs != tariffs
        or run_started - mark.full_at >= timedelta(seconds=FULL_BUILD_SECONDS)
    )
    if full:
        return PartnerScope(frozenset(published.keys() | withdrawn), full=True)
    due = locations_changed_since(mark.since) & published.keys()
    for location_id, uids in published.items():
        had = copied.get(location_id)
        if had is None or _live_evses(had.get("evses", [])) != uids:
            due.add(location_id)
    return PartnerScope(frozenset(due | withdrawn), full=False)


def _live_evses(evses: Iterable[dict]) -> frozenset[str]:
    return frozenset(evse["uid"] for evse in evses if evse.get("status") != REMOVED)

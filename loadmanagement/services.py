"""Writes for load management: limits, the recomputation of a site, the chargers' answers.

A site may cover several stations (SiteStation): every function taking a
`station_id` acts on the site that station is part of.

`site_recompute` is the heart: it reads the running sessions of a site, asks
the engine, stores the allocation (rows whose limit changed become `pending`
for the dispatcher) and journals the decision. It sends nothing itself:
loadmanagement.dispatch does, after the commit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from billing.models import TagGroup
from stations.choices import RegistrationStatus
from stations.models import ChargePoint, Connector, EVChargingNeeds, Station, Transaction
from stations.selectors import transaction_energy_so_far

from . import engine, profile_ids, timeofuse
from .models import (
    UNCONTROLLED_STATES,
    AllocationDecision,
    ChargerFallback,
    ChargerMaxProfile,
    ClearState,
    LimitScheduleEntry,
    LimitSource,
    ProfileClearance,
    SendState,
    SessionAllocation,
    SessionFlexibility,
    SignalKind,
    SiteLimit,
    SiteStation,
    TimedEntry,
    TouSignalEntry,
)
from .selectors import (
    connector_phases,
    measured_power_w,
    running_sessions,
    site_capacity,
    site_limit_get,
    site_station_ids,
)

SINGLE_PHASE_TYPES = ("AC_1_PHASE",)
# A sweep journals a decision when something changed, or at least this often
# (the console's chart of measured power).
DECISION_HEARTBEAT = timedelta(minutes=5)
TimedEntryT = TypeVar("TimedEntryT", bound=TimedEntry)
SITE_FIELDS = (
    "grid_limit_w",
    "phase_current_limit_a",
    "voltage_v",
    "safety_margin_percent",
    "min_current_a",
    "default_charger_max_w",
    "fallback_limit_w",
    "enabled",
)


class Trigger:
    SESSION_STARTED = "session_started"
    SESSION_ENDED = "session_ended"
    LIMIT_CHANGED = "limit_changed"
    CHARGER_CONNECTED = "charger_connected"
    CHARGER_ANSWERED = "charger_answered"
    DEPARTURE_SET = "departure_set"
    STATIONS_CHANGED = "stations_changed"
    SWEEP = "sweep"


class ClearReason:
    """Why profiles were cleared from a charger (kept with the clearance)."""

    SITE_DISABLED = "site_disabled"
    SITE_DELETED = "site_deleted"
    STATION_LEFT = "station_left"
    NO_LIMIT = "no_limit"  # the limit was removed: the charger's cap goes with it


def _site_locked(station_id: int) -> SiteLimit | None:
    """The site a station is part of, locked for this transaction (None: not managed)."""
    site = site_limit_get(station_id=station_id)
    if site is None:
        return None
    return SiteLimit.objects.select_for_update().get(pk=site.pk)


@transaction.atomic
def site_limit_set(*, station_id: int, **changes) -> SiteLimit:
    """Create or change a station's limits (the model's rules apply); recompute the site."""
    unknown = set(changes) - set(SITE_FIELDS)
    if unknown:
        raise ValueError(f"not site limit fields: {sorted(unknown)}")
    station = Station.objects.select_for_update().get(pk=station_id)
    site = _site_locked(station_id) or SiteLimit(station=station)
    for name, value in changes.items():
        setattr(site, name, value)
    site.full_clean()
    site.save()
    site_recompute(station_id=station_id, trigger=Trigger.LIMIT_CHANGED)
    return site


@dataclass(frozen=True)
class ScheduleItem:
    starts_at: datetime
    ends_at: datetime
    limit_w: int


def limit_schedule_replace(
    *, station_id: int, items: list[ScheduleItem], source: str = LimitSource.OPERATOR
) -> list[LimitScheduleEntry]:
    """Replace a site's limit schedule from now on (what has passed is kept); recompute."""
    entries = [
        LimitScheduleEntry(
            starts_at=item.starts_at, ends_at=item.ends_at, limit_w=item.limit_w, source=source
        )
        for item in items
    ]
    return timed_entries_replace(station_id=station_id, model=LimitScheduleEntry, entries=entries)


@dataclass(frozen=True)
class SignalItem:
    starts_at: datetime
    ends_at: datetime
    value: Decimal


def tou_signal_replace(
    *,
    station_id: int,
    items: list[SignalItem],
    kind: str = SignalKind.PRICE,
    source: str = LimitSource.EMS,
) -> list[TouSignalEntry]:
    """Replace a site's price or carbon signal from now on (the past is kept); recompute."""
    entries = [
        TouSignalEntry(
            starts_at=item.starts_at,
            ends_at=item.ends_at,
            value=item.value,
            kind=kind,
            source=source,
        )
        for item in items
    ]
    return timed_entries_replace(station_id=station_id, model=TouSignalEntry, entries=entries)


@transaction.atomic
def timed_entries_replace(
    *, station_id: int, model: type[TimedEntryT], entries: list[TimedEntryT]
) -> list[TimedEntryT]:
    """Replace a site's entries of one table from now on (what has passed is kept); recompute.

    The site is created when the station has none. Each entry is checked by
    the model's rules: a ValidationError names the first bad one (`items[i]`).
    """
    site = _site_locked(station_id)
    if site is None:
        site = site_limit_set(station_id=station_id)
    model.objects.filter(site=site, ends_at__gt=timezone.now()).delete()
    for index, entry in enumerate(entries):
        entry.site = site
        try:
            entry.full_clean(exclude=["site"])
        except ValidationError as exc:
            raise ValidationError({f"items[{index}]": exc.messages}) from exc
    model.objects.bulk_create(entries)
    site_recompute(station_id=station_id, trigger=Trigger.LIMIT_CHANGED)
    return entries


@transaction.atomic
def flexibility_set(
    *, transaction_id: int, departure_at: datetime, energy_wh: int
) -> SessionFlexibility:
    """A driver's departure time and the energy wanted by then; the site is recomputed."""
    session = Transaction.objects.select_related("charge_point").get(pk=transaction_id)
    if departure_at <= timezone.now():
        raise ValidationError({"departure_time": ["Must be in the future."]})
    row, _ = SessionFlexibility.objects.update_or_create(
        transaction_id=transaction_id,
        defaults={"departure_at": departure_at, "energy_wh": energy_wh},
    )
    site_recompute(station_id=session.charge_point.station_id, trigger=Trigger.DEPARTURE_SET)
    return row


def _priorities(site: SiteLimit, sessions) -> dict[int, int]:
    """Each session's priority: the highest rule matching its connector and its tag's groups.

    A rule naming both a connector and a group needs both; a tag is in a
    group when it, or its parent tag (a fleet's), is a member.
    """
    rules = list(site.priorities.all())
    if not rules:
        return {}
    tag_ids = {s.tag_id for s in sessions if s.tag_id}
    tag_ids |= {s.tag.parent_id for s in sessions if s.tag_id and s.tag.parent_id}
    groups_of_tag: dict[int, set[int]] = {}
    memberships = TagGroup.id_tags.through.objects.filter(idtag_id__in=tag_ids)
    for tag_id, group_id in memberships.values_list("idtag_id", "taggroup_id"):
        groups_of_tag.setdefault(tag_id, set()).add(group_id)
    result = {}
    for s in sessions:
        groups = set()
        for tag_id in (s.tag_id, s.tag.parent_id if s.tag_id else None):
            groups |= groups_of_tag.get(tag_id, set())
        result[s.pk] = max(
            (
                rule.priority
                for rule in rules
                if rule.connector_id in (None, s.connector_id)
                and (rule.tag_group_id is None or rule.tag_group_id in groups)
            ),
            default=0,
        )
    return result


def _phases(connector) -> int:
    return 1 if connector.power_type in SINGLE_PHASE_TYPES else 3


def _connector_count(station_ids: list[int]) -> int:
    return Connector.objects.filter(
        charge_point__station_id__in=station_ids,
        charge_point__registration_status=RegistrationStatus.ACCEPTED,
        connector_id__gt=0,
    ).count()


def _fallback_w(site: SiteLimit, capacity: engine.SiteCapacity, connectors: int) -> int | None:
    """The TxDefaultProfile limit per connector: set, or the capacity shared by all connectors."""
    if site.fallback_limit_w is not None:
        return site.fallback_limit_w
    limits = []
    if capacity.power_w is not None:
        limits.append(capacity.power_w)
    if capacity.phase_current_a is not None:
        limits.append(capacity.phase_current_a * capacity.voltage_v * 3)
    if not limits:
        return None
    return int(min(limits) / max(connectors, 1))


def _less_start_reserve(
    capacity: engine.SiteCapacity, fallback_w: int | None, idle_connectors: int
) -> tuple[engine.SiteCapacity, int]:
    """Keep room for sessions about to start: each draws its fallback until its profile arrives.

    Between a StartTransaction and the TxProfile that follows it (the outbox
    relay, one recomputation, one CALL) a new session draws what its
    TxDefaultProfile allows; LOADMGMT_START_RESERVE such starts fit in what
    is kept aside, so the fuse holds through them.
    """
    starts = min(idle_connectors, settings.LOADMGMT_START_RESERVE)
    if not fallback_w or starts <= 0 or capacity.unlimited:
        return capacity, 0
    reserve = fallback_w * starts
    power = None if capacity.power_w is None else max(capacity.power_w - reserve, 0)
    phase = capacity.phase_current_a
    if phase is not None:
        phase = max(phase - reserve / (3 * capacity.voltage_v), 0.0)
    return engine.SiteCapacity(power, phase, capacity.voltage_v), reserve


def _needs_sending(row: SessionAllocation, new_w: int) -> bool:
    """A decrease always; an increase past LOADMGMT_MIN_CHANGE_W; anything never sent."""
    if row.state in UNCONTROLLED_STATES:
        return False  # the dispatcher retries those on its own clock
    if row.sent_at is None:
        return True
    return new_w < row.allocated_w or new_w - row.allocated_w >= settings.LOADMGMT_MIN_CHANGE_W


def _amps(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.1"), rounding="ROUND_DOWN")


def _tuning() -> engine.Tuning:
    return engine.Tuning(
        underuse_ratio=settings.LOADMGMT_UNDERUSE_RATIO,
        measured_margin=settings.LOADMGMT_MEASURED_MARGIN,
    )


@transaction.atomic
def site_recompute(
    *, station_id: int, trigger: str, now: datetime | None = None
) -> AllocationDecision | None:
    """Allocate the site's power anew, store it, journal why; None for a site without limits."""
    now = now or timezone.now()
    site = _site_locked(station_id)
    if site is None:
        return None
    station_ids = site_station_ids(site=site)
    sessions = list(running_sessions(station_ids=station_ids))
    rows = {row.transaction_id: row for row in site.allocations.all()}
    running_ids = {s.pk for s in sessions}
    gone = [tx for tx in rows if tx not in running_ids]
    if gone:
        SessionAllocation.objects.filter(transaction_id__in=gone).delete()
    if not site.enabled:
        cleared = _clear_installed(site, reason=ClearReason.SITE_DISABLED)
        return _journal(site, trigger, None, {}, now, changed=bool(gone) or cleared)
    full_capacity = site_capacity(site=site, at=now)
    connectors = _connector_count(station_ids)
    fallback_w = _fallback_w(site, full_capacity, connectors)
    capacity, reserve = _less_start_reserve(full_capacity, fallback_w, connectors - len(sessions))
    measured = measured_power_w(
        transaction_ids=list(running_ids), voltage_v=capacity.voltage_v, now=now
    )
    priorities = _priorities(site, sessions)
    wired = connector_phases(connector_ids=[s.connector_id for s in sessions])
    # A charger that refused its maximum profile (many 1.6 firmwares take only
    # TxDefault/Tx profiles) is flagged, not counted at full power: its sessions'
    # own profiles control it; a session whose profile it refused counts in full.
    demands = []
    for s in sessions:
        phases = _phases(s.connector)
        row = rows.get(s.pk)
        accepted = row is not None and row.state == SendState.ACCEPTED and row.sent_at
        demands.append(
            engine.SessionDemand(
                key=s.pk,
                started_at=s.start_timestamp,
                max_w=float(s.connector.max_power_w or site.default_charger_max_w),
                min_w=float(site.min_current_a) * phases * capacity.voltage_v,
                phases=phases,
                phase=wired.get(s.connector_id) if phases == 1 else None,
                priority=priorities.get(s.pk, 0),
                offered_w=float(row.allocated_w) if accepted else None,
                measured_w=measured.get(s.pk),
                controlled=row is None or row.controlled,
            )
        )
    plans = _tou_plans(site, sessions, demands, now)
    result = _allocate_with_plans(capacity, demands, plans)
    changed = bool(gone)
    for demand in demands:
        entry = result.by_key[demand.key]
        row = rows.get(demand.key)
        new = row is None
        if new:
            row = SessionAllocation(transaction_id=demand.key, site=site, state=SendState.PENDING)
        changed = changed or new or row.reason != entry.reason
        if entry.reason == engine.Reason.UNCONTROLLED:
            # Shown at the full power it may draw; the dispatcher asks it again.
            row.allocated_w, row.current_a = entry.allocated_w, _amps(entry.current_a)
        elif new or _needs_sending(row, entry.allocated_w):
            changed = changed or row.allocated_w != entry.allocated_w
            row.allocated_w, row.current_a = entry.allocated_w, _amps(entry.current_a)
            row.state = SendState.PENDING
        # else: an increase too small to send; the charger keeps the lower limit.
        row.reason = entry.reason
        row.measured_w = demand.measured_w
        row.max_w = int(demand.max_w)
        row.phases = demand.phases
        row.priority = demand.priority
        row.save()
    changed = _fallbacks_update(site, station_ids, fallback_w) or changed
    changed = _max_profiles_update(site, station_ids, full_capacity) or changed
    return _journal(
        site,
        trigger,
        result,
        measured,
        now,
        changed=changed,
        reserve=reserve,
        limit=full_capacity,
        plans=plans,
    )


def _needs_energy_wh(needs) -> int | None:
    """The energy an EV asked for (ISO 15118 via NotifyEVChargingNeeds), in Wh."""
    if not isinstance(needs, dict):
        return None
    for key in ("acChargingParameters", "dcChargingParameters"):
        params = needs.get(key)
        amount = params.get("energyAmount") if isinstance(params, dict) else None
        if isinstance(amount, int | float) and not isinstance(amount, bool):
            return int(amount)
    return None


def _flexibilities(sessions) -> dict[int, tuple[datetime, int]]:
    """Each flexible session's departure and the energy wanted by then (the driver's word first)."""
    ids = [s.pk for s in sessions]
    found: dict[int, tuple[datetime, int]] = {}
    ev_needs = EVChargingNeeds.objects.filter(
        transaction_id__in=ids, departure_time__isnull=False
    ).order_by("updated_at")
    for row in ev_needs:
        energy = _needs_energy_wh(row.needs)
        if energy is not None:
            found[row.transaction_id] = (row.departure_time, energy)
    for row in SessionFlexibility.objects.filter(transaction_id__in=ids):
        found[row.transaction_id] = (row.departure_at, row.energy_wh)
    return found


def _tou_plans(site, sessions, demands, now) -> dict[int, timeofuse.Plan]:
    """A time-of-use plan per flexible, controlled session of a site with a signal."""
    flexible = _flexibilities(sessions)
    if not flexible:
        return {}
    horizon = max(departure for departure, _ in flexible.values())
    signal = [
        timeofuse.SignalEntry(entry.starts_at, entry.ends_at, float(entry.value))
        for entry in site.tou_signal.filter(ends_at__gt=now, starts_at__lt=horizon)
    ]
    if not signal:
        return {}
    by_pk = {s.pk: s for s in sessions}
    plans = {}
    for demand in demands:
        if demand.key not in flexible or not demand.controlled:
            continue
        departure, wanted = flexible[demand.key]
        delivered = transaction_energy_so_far(transaction=by_pk[demand.key]) or 0
        flexibility = timeofuse.Flexibility(
            departure_at=departure,
            energy_wh=wanted - delivered,
            max_w=demand.max_w,
            min_w=demand.min_w,
        )
        plans[demand.key] = timeofuse.plan(now=now, flexibility=flexibility, signal=signal)
    return plans


def _allocate_with_plans(capacity, demands, plans) -> engine.Allocation:
    """Share as usual; a flexible session waiting for a cheaper hour gets nothing, one
    charging now at most what its plan needs (only ever less than without time-of-use)."""
    waiting = {key for key, plan in plans.items() if plan.reason == timeofuse.PlanReason.WAIT}
    sharing = []
    for demand in demands:
        cap = plans[demand.key].cap_w if demand.key in plans else None
        if demand.key in waiting:
            continue
        sharing.append(demand if cap is None else replace(demand, max_w=min(demand.max_w, cap)))
    result = engine.allocate(capacity=capacity, sessions=sharing, tuning=_tuning())
    entries = dict(result.by_key)
    for key in waiting:
        entries[key] = engine.SessionAllocation(key, 0, 0.0, engine.Reason.TOU_WAITING)
    for key, plan in plans.items():
        entry = entries[key]
        if plan.reason == timeofuse.PlanReason.CHARGE and entry.reason == engine.Reason.CHARGER_MAX:
            entries[key] = replace(entry, reason=engine.Reason.TOU_PLANNED)
    return engine.Allocation(
        sessions=tuple(entries[demand.key] for demand in demands),
        capacity_w=result.capacity_w,
        uncontrolled_w=result.uncontrolled_w,
        over_limit=result.over_limit,
    )


def _tou_summary(plans: dict[int, timeofuse.Plan]) -> str:
    waits = [
        (plan.next_start, key)
        for key, plan in plans.items()
        if plan.reason == timeofuse.PlanReason.WAIT and plan.next_start
    ]
    return "".join(
        f"; tx {key} waiting for cheaper hour {timezone.localtime(start):%H:%M}"
        for start, key in sorted(waits)
    )


def _tou_journal(plans: dict[int, timeofuse.Plan], key: int) -> dict:
    plan = plans.get(key)
    if plan is None:
        return {}
    return {
        "tou": plan.reason,
        "tou_next": plan.next_start.isoformat() if plan.next_start else None,
        "tou_hours": [slot.starts_at.isoformat() for slot in plan.slots if slot.planned_wh > 0],
    }


def _site_charge_points(station_ids: list[int]):
    return ChargePoint.objects.filter(
        station_id__in=station_ids, registration_status=RegistrationStatus.ACCEPTED
    )


def _fallbacks_update(site: SiteLimit, station_ids: list[int], limit: int | None) -> bool:
    """Keep one TxDefaultProfile per accepted charge point at the site; True if any changed."""
    charge_points = _site_charge_points(station_ids).values_list("pk", flat=True)
    existing = {row.charge_point_id: row for row in site.fallbacks.all()}
    if limit is None:
        # No limit, no fallback: the TxDefaultProfiles installed are cleared rather than
        # left throttling (and a clearance still waiting for its charger is kept).
        return _clear_installed(
            site, charge_point_ids=list(existing), reason=ClearReason.NO_LIMIT, kinds={"fallback"}
        )
    wanted = set(charge_points)
    # Managed again: what was to be cleared there is replaced by the profiles sent now
    # (a maximum profile still to clear stays so until one is installed again).
    _clearances_forget(wanted, keep={profile_ids.max_profile_id()})
    stale = [pk for pk in existing if pk not in wanted]
    if stale:
        ChargerFallback.objects.filter(charge_point_id__in=stale).delete()
    # A charge point that moved here from another site takes its row along.
    ChargerFallback.objects.filter(charge_point_id__in=wanted).exclude(site=site).update(
        site=site, state=SendState.PENDING
    )
    changed = False
    for pk in wanted:
        row = existing.get(pk)
        if row is None:
            ChargerFallback.objects.update_or_create(
                charge_point_id=pk,
                defaults={"site": site, "limit_w": limit, "state": SendState.PENDING},
            )
            changed = True
        elif row.limit_w != limit:
            row.limit_w, row.state = limit, SendState.PENDING
            row.save(update_fields=["limit_w", "state"])
            changed = True
    return changed


def _max_profiles_update(
    site: SiteLimit, station_ids: list[int], capacity: engine.SiteCapacity
) -> bool:
    """Keep one maximum profile per accepted charge point at the site; True if any changed."""
    existing = {row.charge_point_id: row for row in site.max_profiles.all()}
    if capacity.unlimited:
        # No limit, no cap: the ones installed are cleared rather than left throttling.
        return _clear_installed(
            site, charge_point_ids=list(existing), reason=ClearReason.NO_LIMIT, kinds={"max"}
        )
    connectors = list(
        Connector.objects.filter(
            charge_point__in=_site_charge_points(station_ids), connector_id__gt=0
        )
    )
    wired = connector_phases(connector_ids=[c.pk for c in connectors])
    connectors_of: dict[int, list[engine.ConnectorMeans]] = {}
    for connector in connectors:
        phases = _phases(connector)
        connectors_of.setdefault(connector.charge_point_id, []).append(
            engine.ConnectorMeans(
                max_w=float(connector.max_power_w or site.default_charger_max_w),
                phases=phases,
                phase=wired.get(connector.pk) if phases == 1 else None,
            )
        )
    wanted = set(_site_charge_points(station_ids).values_list("pk", flat=True))
    stale = [pk for pk in existing if pk not in wanted]
    if stale:
        ChargerMaxProfile.objects.filter(charge_point_id__in=stale).delete()
    ChargerMaxProfile.objects.filter(charge_point_id__in=wanted).exclude(site=site).update(
        site=site, state=SendState.PENDING
    )
    changed = False
    capped = set()
    for pk in wanted:
        cap = engine.charger_cap(capacity=capacity, connectors=connectors_of.get(pk, []))
        if cap is None:
            continue  # no connectors reported yet: nothing to cap
        capped.add(pk)
        values = {"limit_w": cap.limit_w, "current_a": _amps(cap.current_a), "phases": cap.phases}
        row = existing.get(pk)
        if row is None:
            ChargerMaxProfile.objects.update_or_create(
                charge_point_id=pk, defaults={"site": site, "state": SendState.PENDING, **values}
            )
            changed = True
        elif any(getattr(row, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(row, name, value)
            row.state = SendState.PENDING
            row.save(update_fields=[*values, "state"])
            changed = True
    _clearances_forget(capped, only={profile_ids.max_profile_id()})
    return changed


def _clearances_forget(
    charge_point_ids: set[int], *, only: set[int] | None = None, keep: set[int] = frozenset()
) -> None:
    """Profiles about to be installed again are no longer to be cleared on those chargers.

    A clearance still waiting for its charger would otherwise remove, once
    sent, the profile installed after it; the ids it names (`only` those,
    never `keep`) are struck from it, and a clearance left with none goes.
    """
    waiting = ProfileClearance.objects.filter(
        charge_point_id__in=charge_point_ids, state__in=(ClearState.PENDING, ClearState.NO_ANSWER)
    )
    for clearance in waiting:
        left = [
            pk
            for pk in clearance.profile_ids
            if pk in keep or (only is not None and pk not in only)
        ]
        if not left:
            clearance.delete()
        elif left != clearance.profile_ids:
            clearance.profile_ids = left
            clearance.save(update_fields=["profile_ids"])


def _clear_installed(
    site: SiteLimit,
    *,
    reason: str,
    charge_point_ids: list[int] | None = None,
    kinds: frozenset[str] | set[str] = frozenset({"max", "fallback", "session"}),
) -> bool:
    """Have the profiles we sent to the site's chargers (or to some) cleared; forget them.

    One ProfileClearance per charger naming the ids of every profile sent
    there (sent at all: an unanswered one may have been installed); the rows
    go, so that a site managed again sends everything afresh. True if any.
    """
    ids: dict[int, set[int]] = {}

    def scoped(rows):
        if charge_point_ids is not None:
            rows = rows.filter(charge_point_id__in=charge_point_ids)
        return rows

    deleted = 0
    if "max" in kinds:
        max_rows = scoped(site.max_profiles.all())
        for cp, sent in max_rows.values_list("charge_point_id", "sent_at"):
            if sent is not None:
                ids.setdefault(cp, set()).add(profile_ids.max_profile_id())
        deleted += max_rows.delete()[0]
    if "fallback" in kinds:
        fallbacks = scoped(site.fallbacks.all())
        for cp, sent in fallbacks.values_list("charge_point_id", "sent_at"):
            if sent is not None:
                ids.setdefault(cp, set()).add(profile_ids.fallback_profile_id())
        deleted += fallbacks.delete()[0]
    if "session" in kinds:
        sessions = site.allocations.all()
        if charge_point_ids is not None:
            sessions = sessions.filter(transaction__charge_point_id__in=charge_point_ids)
        for cp, connector, sent in sessions.values_list(
            "transaction__charge_point_id", "transaction__connector__connector_id", "sent_at"
        ):
            if sent is not None:
                ids.setdefault(cp, set()).add(profile_ids.tx_profile_id(connector))
        deleted += sessions.delete()[0]
    ProfileClearance.objects.bulk_create(
        ProfileClearance(
            charge_point_id=cp,
            profile_ids=sorted(found),
            reason=reason,
            site_name=str(site)[:255],
        )
        for cp, found in ids.items()
    )
    return bool(deleted or ids)


@transaction.atomic
def site_stations_set(*, station_id: int, station_ids: list[int]) -> SiteLimit:
    """Set the stations behind a site's connection (the site's own always stays); recompute.

    A station of another site is refused, naming it; a station that leaves
    has our profiles cleared from its chargers, whose sessions are then no
    longer managed.
    """
    site = _site_locked(station_id)
    if site is None:
        site = site_limit_set(station_id=station_id)
    wanted = list(dict.fromkeys(station_ids))
    if site.station_id not in wanted:
        raise ValidationError(
            {
                "stations": [
                    gettext("The site's own station %(station)s stays in it.")
                    % {"station": site.station_id}
                ]
            }
        )
    found = set(Station.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    missing = [pk for pk in wanted if pk not in found]
    if missing:
        raise ValidationError(
            {"stations": [gettext("No such station: %(ids)s.") % {"ids": missing}]}
        )
    taken = (
        SiteStation.objects.filter(station_id__in=wanted)
        .exclude(site=site)
        .select_related("station", "site__station")
    )
    problems = [
        gettext("Station %(station)s already belongs to the site of %(site)s.")
        % {"station": member.station_id, "site": member.site}
        for member in taken
    ]
    owners = SiteLimit.objects.filter(station_id__in=wanted).exclude(pk=site.pk)
    problems += [
        gettext("Station %(station)s has a site of its own.") % {"station": other.station_id}
        for other in owners
    ]
    if problems:
        raise ValidationError({"stations": problems})
    current = set(site.members.values_list("station_id", flat=True))
    leaving = current - set(wanted)
    if leaving:
        charge_points = list(
            ChargePoint.objects.filter(station_id__in=leaving).values_list("pk", flat=True)
        )
        _clear_installed(site, charge_point_ids=charge_points, reason=ClearReason.STATION_LEFT)
        site.members.filter(station_id__in=leaving).delete()
    SiteStation.objects.bulk_create(
        SiteStation(site=site, station_id=pk) for pk in wanted if pk not in current
    )
    site_recompute(station_id=site.station_id, trigger=Trigger.STATIONS_CHANGED)
    return site


@transaction.atomic
def site_delete(*, site_id: int) -> bool:
    """Delete a site (its journal goes with it) after having its profiles cleared."""
    site = SiteLimit.objects.select_for_update().filter(pk=site_id).first()
    if site is None:
        return False
    _clear_installed(site, reason=ClearReason.SITE_DELETED)
    site.delete()
    return True


def clearance_outcome_record(
    *, clearance_id: int, state: str, answers: dict, detail: str, sent_at: datetime
) -> None:
    ProfileClearance.objects.filter(pk=clearance_id).update(
        state=state,
        answers=answers,
        detail=detail[:255],
        sent_at=sent_at,
        answered_at=timezone.now(),
    )


def _journal(
    site, trigger, result, measured, now, *, changed, reserve=0, limit=None, plans=None
) -> AllocationDecision | None:
    """Record the decision when it changed anything, was asked for, or the chart needs a point."""
    last = site.decisions.order_by("-created_at").values_list("created_at", flat=True).first()
    heartbeat_due = last is None or now - last >= DECISION_HEARTBEAT
    if trigger == Trigger.SWEEP and not changed and not heartbeat_due:
        return None
    entries = [] if result is None else list(result.sessions)
    measured_total = sum(measured.values()) if measured else None
    waiting = sum(1 for entry in entries if entry.reason == engine.Reason.WAITING)
    uncontrolled = sum(1 for entry in entries if entry.reason == engine.Reason.UNCONTROLLED)
    if result is None:
        summary = "site not managed: no profiles sent"
    else:
        summary = (
            f"{len(entries) - waiting} charging, {waiting} waiting, "
            f"{uncontrolled} uncontrolled (counted at full power)"
        )
        if reserve:
            summary += f"; {reserve} W kept for a starting session"
        if result.over_limit:
            summary += "; uncontrolled load alone exceeds the limit"
        summary += _tou_summary(plans or {})
    return AllocationDecision.objects.create(
        site=site,
        trigger=trigger,
        capacity_w=None if limit is None or limit.power_w is None else int(limit.power_w),
        allocated_w=0 if result is None else result.allocated_w,
        uncontrolled_w=0 if result is None else result.uncontrolled_w,
        measured_w=measured_total,
        over_limit=bool(result and result.over_limit),
        sessions=[
            {
                "transaction": entry.key,
                "allocated_w": entry.allocated_w,
                "measured_w": measured.get(entry.key),
                "reason": entry.reason,
                **_tou_journal(plans or {}, entry.key),
            }
            for entry in entries
        ],
        summary=summary[:255],
    )


def allocation_outcome_record(
    *,
    transaction_id: int,
    state: str,
    limit: Decimal | None,
    unit: str,
    command_id: int | None,
    detail: str = "",
    sent_at: datetime,
) -> bool:
    """Keep a charger's answer to a session's profile; True when it lost control of it."""
    row = SessionAllocation.objects.filter(transaction_id=transaction_id).first()
    if row is None:
        return False  # the session ended meanwhile
    was_controlled = row.controlled
    row.state = state
    row.sent_limit = limit
    row.sent_unit = unit
    row.sent_at = sent_at
    row.answered_at = timezone.now()
    row.command_id = command_id
    row.detail = detail[:255]
    row.save()
    return was_controlled and not row.controlled


def max_profile_outcome_record(
    *, charge_point_pk: int, state: str, command_id: int | None, detail: str = "", sent_at: datetime
) -> bool:
    """Keep a charger's answer to its maximum profile; True when it lost control of it."""
    row = ChargerMaxProfile.objects.filter(charge_point_id=charge_point_pk).first()
    if row is None:
        return False
    was_controlled = row.controlled
    row.state, row.command_id, row.detail = state, command_id, detail[:255]
    row.sent_at, row.answered_at = sent_at, timezone.now()
    row.save()
    return was_controlled and not row.controlled


def fallback_outcome_record(
    *, charge_point_pk: int, state: str, command_id: int | None, detail: str = "", sent_at: datetime
) -> None:
    ChargerFallback.objects.filter(charge_point_id=charge_point_pk).update(
        state=state,
        command_id=command_id,
        detail=detail[:255],
        sent_at=sent_at,
        answered_at=timezone.now(),
    )


def charger_reconnected(*, charge_point_pk: int) -> int | None:
    """Have a reconnected charger's profiles sent again; return its station (None: none)."""
    station_id = (
        ChargePoint.objects.filter(pk=charge_point_pk).values_list("station_id", flat=True).first()
    )
    if station_id is None:
        return None
    ChargerFallback.objects.filter(charge_point_id=charge_point_pk).update(state=SendState.PENDING)
    ChargerMaxProfile.objects.filter(charge_point_id=charge_point_pk).update(
        state=SendState.PENDING
    )
    ProfileClearance.objects.filter(
        charge_point_id=charge_point_pk, state=ClearState.NO_ANSWER
    ).update(state=ClearState.PENDING)
    SessionAllocation.objects.filter(transaction__charge_point_id=charge_point_pk).update(
        state=SendState.PENDING
    )
    return station_id


def managed_station_ids() -> list[int]:
    """Stations with a managed limit and something to manage (sessions, fallbacks to send)."""
    return list(
        SiteLimit.objects.filter(enabled=True)
        .filter(
            Q(grid_limit_w__isnull=False)
            | Q(phase_current_limit_a__isnull=False)
            | Q(schedule__isnull=False)
        )
        .values_list("station_id", flat=True)
        .distinct()
    )


def decisions_prune(*, now: datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - timedelta(days=settings.LOADMGMT_DECISION_RETENTION_DAYS)
    deleted, _ = AllocationDecision.objects.filter(created_at__lt=cutoff).delete()
    return deleted

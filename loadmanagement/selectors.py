"""Reads for load management: a site's capacity now, sessions' draw, the allocation shown."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Min, Q, QuerySet
from django.utils import timezone

from stations.choices import SessionStatus
from stations.models import MeterValue, Transaction

from .engine import SiteCapacity
from .models import (
    UNCONTROLLED_STATES,
    AllocationDecision,
    ChargerFallback,
    ChargerMaxProfile,
    ClearState,
    ConnectorPhase,
    ProfileClearance,
    SendState,
    SessionAllocation,
    SiteLimit,
    SiteStation,
)

POWER = "Power.Active.Import"
CURRENT = "Current.Import"
PHASE_NAMES = ("L1", "L2", "L3", "L1-N", "L2-N", "L3-N")


def site_limit_get(*, station_id: int) -> SiteLimit | None:
    """The site a station is part of (its own, or a group's it was added to)."""
    site_id = (
        SiteStation.objects.filter(station_id=station_id).values_list("site_id", flat=True).first()
    )
    if site_id is not None:
        return SiteLimit.objects.filter(pk=site_id).first()
    return SiteLimit.objects.filter(station_id=station_id).first()


def site_station_ids(*, site: SiteLimit) -> list[int]:
    """Every station behind the site's connection, its own first."""
    members = list(site.members.values_list("station_id", flat=True))
    return [site.station_id, *(pk for pk in members if pk != site.station_id)]


def site_stations(*, site: SiteLimit) -> list[SiteStation]:
    return list(site.members.select_related("station").order_by("added_at", "pk"))


def connector_phases(*, connector_ids: list[int]) -> dict[int, int]:
    """The phase (1-3) each one-phase connector is wired to, where the operator said."""
    return dict(
        ConnectorPhase.objects.filter(connector_id__in=connector_ids).values_list(
            "connector_id", "phase"
        )
    )


def site_limit_w_at(*, site: SiteLimit, at: datetime) -> int | None:
    """The power limit in force at `at`: the grid's, or a lower scheduled one."""
    scheduled = site.schedule.filter(starts_at__lte=at, ends_at__gt=at).aggregate(
        lowest=Min("limit_w")
    )["lowest"]
    limits = [value for value in (site.grid_limit_w, scheduled) if value is not None]
    return min(limits) if limits else None


def site_capacity(*, site: SiteLimit, at: datetime | None = None) -> SiteCapacity:
    """What may be shared at `at`: the limits in force less the safety margin."""
    at = at or timezone.now()
    keep = 1 - float(site.safety_margin_percent) / 100
    power = site_limit_w_at(site=site, at=at)
    phase = site.phase_current_limit_a
    return SiteCapacity(
        power_w=None if power is None else int(power * keep),
        phase_current_a=None if phase is None else phase * keep,
        voltage_v=float(site.voltage_v),
    )


def running_sessions(*, station_ids: list[int]) -> QuerySet[Transaction]:
    return (
        Transaction.objects.filter(
            charge_point__station_id__in=station_ids, status=SessionStatus.RUNNING
        )
        .select_related("connector", "charge_point", "tag")
        .order_by("start_timestamp", "pk")
    )


def _watts(value: Decimal, unit: str) -> float:
    return float(value) * (1000 if unit == "kW" else 1)


def measured_power_w(
    *, transaction_ids: list[int], voltage_v: float, now: datetime | None = None
) -> dict[int, int]:
    """Each session's latest draw: its active power, else its current times the voltage.

    A reading older than LOADMGMT_MEASURE_MAX_AGE_SECONDS is no longer its
    draw; per-phase readings of one instant are added up.
    """
    if not transaction_ids:
        return {}
    since = (now or timezone.now()) - timedelta(seconds=settings.LOADMGMT_MEASURE_MAX_AGE_SECONDS)
    rows = (
        MeterValue.objects.filter(
            transaction_id__in=transaction_ids,
            timestamp__gte=since,
            measurand__in=(POWER, CURRENT),
            numeric_value__isnull=False,
        )
        .exclude(location="Inlet")
        .order_by("transaction_id", "-timestamp")
        .values_list("transaction_id", "timestamp", "measurand", "phase", "numeric_value", "unit")
    )
    latest: dict[int, datetime] = {}
    readings: dict[tuple[int, str], dict[str, float]] = defaultdict(dict)
    for tx, at, measurand, phase, value, unit in rows:
        if latest.setdefault(tx, at) != at:
            continue  # only the newest instant of each session
        if measurand == POWER:
            readings[(tx, POWER)][phase or "total"] = _watts(value, unit)
        elif phase in PHASE_NAMES or not phase:
            readings[(tx, CURRENT)][phase or "total"] = float(value) * voltage_v
    result = {}
    for tx in latest:
        for measurand in (POWER, CURRENT):
            values = readings.get((tx, measurand))
            if values:
                total = values.get("total")
                result[tx] = int(total if total is not None else sum(values.values()))
                break
    return result


@dataclass(frozen=True)
class SiteAllocationView:
    grid_limit_w: int | None
    allocated_w: int
    measured_w: int | None
    sessions: list[SessionAllocation]


def site_allocation(*, station_id: int, driver_user_id: int | None = None) -> SiteAllocationView:
    """The allocation in force (a driver's view holds only their own sessions)."""
    site = site_limit_get(station_id=station_id)
    if site is None:
        return SiteAllocationView(None, 0, None, [])
    rows = list(
        site.allocations.filter(transaction__status=SessionStatus.RUNNING)
        .select_related("transaction__tag__driver")
        .order_by("transaction_id")
    )
    allocated = sum(row.allocated_w for row in rows)
    measured_values = [row.measured_w for row in rows if row.measured_w is not None]
    measured = sum(measured_values) if measured_values else None
    if driver_user_id is not None:
        rows = [row for row in rows if _driver_of(row.transaction) == driver_user_id]
    return SiteAllocationView(
        grid_limit_w=site_limit_w_at(site=site, at=timezone.now()),
        allocated_w=allocated,
        measured_w=measured,
        sessions=rows,
    )


def _driver_of(transaction: Transaction) -> int | None:
    tag = transaction.tag
    return None if tag is None or tag.driver_id is None else tag.driver.user_id


def decisions_recent(*, site: SiteLimit, since: datetime) -> QuerySet[AllocationDecision]:
    return site.decisions.filter(created_at__gte=since).order_by("created_at", "id")


def due_q(*, now: datetime | None = None) -> Q:
    """Profiles to send: pending, or refused or unanswered LOADMGMT_RETRY_SECONDS ago."""
    retry_before = (now or timezone.now()) - timedelta(seconds=settings.LOADMGMT_RETRY_SECONDS)
    failed = Q(state__in=UNCONTROLLED_STATES)
    return Q(state=SendState.PENDING) | (
        failed & (Q(sent_at__lt=retry_before) | Q(sent_at__isnull=True))
    )


def site_has_due(*, station_id: int) -> bool:
    site = site_limit_get(station_id=station_id)
    if site is None or not site.enabled:
        return False
    due = due_q()
    return any(
        model.objects.filter(due, site=site).exists()
        for model in (SessionAllocation, ChargerFallback, ChargerMaxProfile)
    )


def clearances_due(*, now: datetime | None = None) -> QuerySet[ProfileClearance]:
    """Clearances to send: new ones, and unanswered ones LOADMGMT_RETRY_SECONDS later."""
    retry_before = (now or timezone.now()) - timedelta(seconds=settings.LOADMGMT_RETRY_SECONDS)
    return ProfileClearance.objects.filter(
        Q(state=ClearState.PENDING) | Q(state=ClearState.NO_ANSWER, sent_at__lt=retry_before)
    ).select_related("charge_point")

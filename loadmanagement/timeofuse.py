"""Time-of-use planning: when a flexible session should charge.

Pure functions over plain values (no database). A session is flexible when
its driver (or its EV, via ISO 15118) said when it leaves and how much
energy it still needs. The plan is a simple, explainable greedy one:

1. Cut the time from now to the departure into hourly slots (the first
   and the last may be partial).
2. Give each slot the site's signal value (a price or gCO2/kWh) in force
   at its start; a slot without a value is the least preferred.
3. Fill the needed energy at the session's maximum power into the cheapest
   slots first (earlier first among equal values).
4. Charge now only when the current slot got some energy, and at least at
   the power that energy needs over the rest of this slot.

A departure that cannot be met even at full power from now on, or a need
already met, leaves the session as it would be without time-of-use (never
worse). The plan is made anew every round, so a lower share than planned
(the site's limit) only moves energy into later slots, and a departure
that becomes unreachable falls back to charging at full allocation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

HOUR = timedelta(hours=1)


class PlanReason:
    CHARGE = "tou_charge"  # the current hour is among the cheapest needed
    WAIT = "tou_wait"  # cheaper hours before the departure suffice
    UNREACHABLE = "tou_unreachable"  # cannot be met: charges as without time-of-use
    MET = "tou_met"  # the need is met: charges as without time-of-use


@dataclass(frozen=True)
class SignalEntry:
    starts_at: datetime
    ends_at: datetime
    value: float


@dataclass(frozen=True)
class Flexibility:
    """`energy_wh`: what is still needed by `departure_at`; `max_w`/`min_w` as in the engine."""

    departure_at: datetime
    energy_wh: float
    max_w: float
    min_w: float = 0.0


@dataclass(frozen=True)
class Slot:
    starts_at: datetime
    ends_at: datetime
    value: float | None
    planned_wh: float

    @property
    def hours(self) -> float:
        return (self.ends_at - self.starts_at).total_seconds() / 3600


@dataclass(frozen=True)
class Plan:
    reason: str
    # The most the session may draw now; None: no time-of-use cap (charge as today).
    cap_w: float | None
    slots: tuple[Slot, ...] = ()

    @property
    def next_start(self) -> datetime | None:
        """The start of the first slot after this one with energy planned (shown when waiting)."""
        later = [slot.starts_at for slot in self.slots[1:] if slot.planned_wh > 0]
        return min(later) if later else None


def value_at(signal: Sequence[SignalEntry], at: datetime) -> float | None:
    for entry in signal:
        if entry.starts_at <= at < entry.ends_at:
            return entry.value
    return None


def slots_until(now: datetime, departure_at: datetime) -> list[tuple[datetime, datetime]]:
    """Hourly slots from now to the departure, cut at whole hours."""
    slots = []
    start = now
    while start < departure_at:
        next_hour = start.replace(minute=0, second=0, microsecond=0) + HOUR
        end = min(next_hour, departure_at)
        slots.append((start, end))
        start = end
    return slots


def plan(*, now: datetime, flexibility: Flexibility, signal: Sequence[SignalEntry]) -> Plan:
    need = flexibility.energy_wh
    if need <= 0:
        return Plan(PlanReason.MET, None)
    bounds = slots_until(now, flexibility.departure_at)
    values = [value_at(signal, start) for start, _ in bounds]
    capacity = [flexibility.max_w * (end - start).total_seconds() / 3600 for start, end in bounds]
    if sum(capacity) < need:
        return Plan(PlanReason.UNREACHABLE, None)
    planned = [0.0] * len(bounds)
    order = sorted(
        range(len(bounds)), key=lambda i: (math.inf if values[i] is None else values[i], i)
    )
    left = need
    for i in order:
        if left <= 0:
            break
        planned[i] = min(capacity[i], left)
        left -= planned[i]
    slots = tuple(
        Slot(start, end, value, wh)
        for (start, end), value, wh in zip(bounds, values, planned, strict=True)
    )
    if planned[0] <= 0:
        return Plan(PlanReason.WAIT, 0.0, slots)
    power = planned[0] / slots[0].hours
    cap = min(flexibility.max_w, max(power, flexibility.min_w))
    return Plan(PlanReason.CHARGE, cap, slots)

"""The allocation engine: how much power each session on a site may draw.

Pure functions over plain values (no database, no protocol): the services
feed them what the database knows, tests and the day simulation feed them
what they like.

The rules, in the order they apply:

1. **Uncontrolled load first.** A session whose charger did not accept its
   last profile (no answer, a rejection, no smart charging) may draw its
   charger's full power: it is counted at that and left out of the sharing.
2. **Admission by minimum.** A session is only worth running at its
   minimum current (below about 6 A an EV stops). Sessions are admitted in
   priority order, then start order, while their minima fit; the first that
   does not fit waits, and so does everyone behind it (no overtaking: a big
   session is never starved by small ones arriving later).
3. **Sharing by levels.** What is left is shared by progressive filling:
   every admitted session's current rises equally until a limit binds (the
   site's power, one phase's current, the charger's maximum, or the
   vehicle's observed draw), then the sessions held by that limit stop and
   the others go on. A higher priority level is filled before a lower one.
4. **Headroom from measured draw.** A vehicle drawing clearly less than it
   was offered (a full battery, an EV-side limit) is capped at its draw plus
   a margin; what it leaves is shared among the others. When it draws up to
   its cap again, the cap goes on the next round.

Phase-aware: a session loads one or three phases; a site may limit the
current per phase as well as the total power. A one-phase session on an
unknown phase is counted on every phase (the safe assumption).

Every result is rounded down (whole watts, tenths of an ampere), so the
sum never exceeds the limit through rounding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

PHASES = (1, 2, 3)
EPSILON = 1e-9


class Reason:
    """Why a session got what it got (stored with the allocation, shown to operators)."""

    SHARE = "share"  # an equal share of what is left
    CHARGER_MAX = "charger_max"  # held at its charger's maximum
    MEASURED = "measured"  # held at its measured draw plus a margin
    SITE_LIMIT = "site_limit"  # held by the site's power limit
    PHASE_LIMIT = "phase_limit"  # held by one phase's current limit
    WAITING = "waiting"  # its minimum did not fit: paused until there is room
    UNCONTROLLED = "uncontrolled"  # no accepted profile: counted at full power
    NO_LIMIT = "no_limit"  # the site has no limit: its charger's maximum
    # Time-of-use (see timeofuse.py): a flexible session waits for a cheaper hour,
    # or is held at what its plan needs in this one.
    TOU_WAITING = "tou_waiting"
    TOU_PLANNED = "tou_planned"


@dataclass(frozen=True)
class SiteCapacity:
    """What the grid connection allows, after the safety margin.

    `power_w`: the total (None: no power limit). `phase_current_a`: the
    current per phase (None: no per-phase limit). `voltage_v`: phase-to-
    neutral voltage, turning amperes into watts.
    """

    power_w: float | None
    phase_current_a: float | None = None
    voltage_v: float = 230.0

    @property
    def unlimited(self) -> bool:
        return self.power_w is None and self.phase_current_a is None


@dataclass(frozen=True)
class SessionDemand:
    """One running session as the engine sees it.

    `key`: the caller's id (a transaction pk). `phases`: how many phases it
    draws from (DC chargers: 3, balanced). `phase`: for a one-phase session,
    which one (1-3) when known. `min_w`/`max_w`: what is worth sending and
    what its charger can do at most. `offered_w`: what it was allowed last
    round; `measured_w`: what it draws (both None when unknown).
    `controlled`: False when its charger did not accept the last profile.
    """

    key: int
    started_at: datetime
    max_w: float
    min_w: float
    phases: int = 3
    phase: int | None = None
    priority: int = 0
    offered_w: float | None = None
    measured_w: float | None = None
    controlled: bool = True


@dataclass(frozen=True)
class Tuning:
    """How eagerly unused headroom is taken back (settings; see docs/LOAD_MANAGEMENT.md)."""

    # A vehicle drawing under this share of its offer is "not using it".
    underuse_ratio: float = 0.8
    # ...and is capped at its draw times this (room to ramp up next round).
    measured_margin: float = 1.15


@dataclass(frozen=True)
class SessionAllocation:
    key: int
    allocated_w: int
    current_a: float  # per phase; what a profile in amperes carries
    reason: str


@dataclass(frozen=True)
class Allocation:
    """The result: per session, and the totals the site sees."""

    sessions: tuple[SessionAllocation, ...]
    capacity_w: float | None
    uncontrolled_w: int  # counted at full power: not ours to share
    over_limit: bool = False  # uncontrolled load alone exceeds the limit
    by_key: dict[int, SessionAllocation] = field(default_factory=dict, compare=False)

    def __post_init__(self):
        self.by_key.update({entry.key: entry for entry in self.sessions})

    @property
    def allocated_w(self) -> int:
        return sum(entry.allocated_w for entry in self.sessions)


def loaded_phases(session: SessionDemand) -> tuple[int, ...]:
    """The phases a session's current flows on (all three when unknown)."""
    if session.phases >= 3:
        return PHASES
    if session.phases == 1 and session.phase in PHASES:
        return (session.phase,)
    return PHASES


def _watts_per_amp(session: SessionDemand, voltage_v: float) -> float:
    return max(session.phases, 1) * voltage_v


def _floor(value: float, step: float = 1.0) -> float:
    return math.floor(value / step + EPSILON) * step


class _Budget:
    """What is left of the site's power and of each phase's current."""

    def __init__(self, capacity: SiteCapacity):
        self.voltage_v = capacity.voltage_v
        self.power_w = math.inf if capacity.power_w is None else float(capacity.power_w)
        phase_a = math.inf if capacity.phase_current_a is None else capacity.phase_current_a
        self.phase_a = {phase: float(phase_a) for phase in PHASES}

    def take(self, session: SessionDemand, watts: float) -> None:
        self.power_w -= watts
        amps = watts / _watts_per_amp(session, self.voltage_v)
        for phase in loaded_phases(session):
            self.phase_a[phase] -= amps

    def fits(self, session: SessionDemand, watts: float) -> bool:
        amps = watts / _watts_per_amp(session, self.voltage_v)
        return self.power_w >= watts - EPSILON and all(
            self.phase_a[phase] >= amps - EPSILON for phase in loaded_phases(session)
        )

    @property
    def exceeded(self) -> bool:
        return self.power_w < -EPSILON or any(a < -EPSILON for a in self.phase_a.values())


def _minimum_w(session: SessionDemand, voltage_v: float) -> float:
    """The minimum, up to a whole tenth of an ampere (what a profile can carry).

    Rounded up, so that the rounded-down result still reaches it; a charger
    that cannot deliver the minimum at all gets its maximum as its minimum.
    """
    per_amp = _watts_per_amp(session, voltage_v)
    if session.min_w >= session.max_w:
        return _floor(session.max_w / per_amp, 0.1) * per_amp
    amps = math.ceil(session.min_w / per_amp / 0.1 - EPSILON) * 0.1
    return min(amps * per_amp, _floor(session.max_w / per_amp, 0.1) * per_amp)


def demand_cap_w(session: SessionDemand, tuning: Tuning) -> tuple[float, str]:
    """The most worth offering a session: its charger's maximum, or its draw plus a margin."""
    cap, reason = session.max_w, Reason.CHARGER_MAX
    offered, measured = session.offered_w, session.measured_w
    if (
        offered is not None
        and measured is not None
        and offered > 0
        and measured < offered * tuning.underuse_ratio
    ):
        by_draw = max(measured * tuning.measured_margin, session.min_w)
        if by_draw < cap:
            cap, reason = by_draw, Reason.MEASURED
    return cap, reason


def _fill(
    sessions: Sequence[SessionDemand],
    levels: dict[int, float],
    caps: dict[int, tuple[float, str]],
    budget: _Budget,
    reasons: dict[int, str],
) -> None:
    """Raise the current of `sessions` equally until each is held by some limit.

    `levels` holds each session's current (A per phase), already at its
    minimum; the budget is what is left after those minima.
    """
    voltage = budget.voltage_v
    rising = {s.key: s for s in sessions}
    while rising:
        # How far every rising session can go up together before a limit binds.
        per_amp_w = sum(_watts_per_amp(s, voltage) for s in rising.values())
        steps = [(budget.power_w / per_amp_w, Reason.SITE_LIMIT, None)]
        for phase in PHASES:
            on_phase = [s for s in rising.values() if phase in loaded_phases(s)]
            if on_phase and budget.phase_a[phase] != math.inf:
                steps.append((budget.phase_a[phase] / len(on_phase), Reason.PHASE_LIMIT, phase))
        for s in rising.values():
            cap_w, why = caps[s.key]
            steps.append((cap_w / _watts_per_amp(s, voltage) - levels[s.key], why, s.key))
        step, why, which = min(steps, key=lambda item: item[0])
        step = max(step, 0.0)
        if step == math.inf:  # nothing binds: cannot happen with finite caps
            break
        for s in rising.values():
            levels[s.key] += step
            budget.take(s, step * _watts_per_amp(s, voltage))
        if why == Reason.SITE_LIMIT:
            held = list(rising)
        elif why == Reason.PHASE_LIMIT:
            held = [key for key, s in rising.items() if which in loaded_phases(s)]
        else:
            # Every session at its cap now (ties stop together).
            held = [
                key
                for key, s in rising.items()
                if levels[key] * _watts_per_amp(s, voltage) >= caps[key][0] - 1e-6
            ]
        for key in held:
            reasons[key] = why if why not in (Reason.SITE_LIMIT,) else Reason.SHARE
            rising.pop(key)


def allocate(
    *, capacity: SiteCapacity, sessions: Sequence[SessionDemand], tuning: Tuning | None = None
) -> Allocation:
    """Share the site's capacity among its running sessions (see the module's rules)."""
    tuning = tuning or Tuning()
    budget = _Budget(capacity)
    results: dict[int, SessionAllocation] = {}
    voltage = capacity.voltage_v

    uncontrolled = [s for s in sessions if not s.controlled]
    for s in uncontrolled:
        budget.take(s, s.max_w)
        amps = s.max_w / _watts_per_amp(s, voltage)
        results[s.key] = SessionAllocation(s.key, int(s.max_w), amps, Reason.UNCONTROLLED)
    uncontrolled_w = int(sum(s.max_w for s in uncontrolled))
    over_limit = budget.exceeded

    controlled = sorted(
        (s for s in sessions if s.controlled), key=lambda s: (-s.priority, s.started_at, s.key)
    )
    if capacity.unlimited:
        for s in controlled:
            amps = _floor(s.max_w / _watts_per_amp(s, voltage), 0.1)
            results[s.key] = SessionAllocation(s.key, int(s.max_w), amps, Reason.NO_LIMIT)
        return _result(sessions, results, capacity, uncontrolled_w, over_limit)

    admitted: list[SessionDemand] = []
    levels: dict[int, float] = {}
    queue_closed = over_limit
    for s in controlled:
        minimum = _minimum_w(s, voltage)
        if not queue_closed and budget.fits(s, minimum):
            budget.take(s, minimum)
            levels[s.key] = minimum / _watts_per_amp(s, voltage)
            admitted.append(s)
        else:
            queue_closed = True
            results[s.key] = SessionAllocation(s.key, 0, 0.0, Reason.WAITING)

    caps = {s.key: demand_cap_w(s, tuning) for s in admitted}
    reasons: dict[int, str] = {}
    for priority in sorted({s.priority for s in admitted}, reverse=True):
        _fill([s for s in admitted if s.priority == priority], levels, caps, budget, reasons)

    for s in admitted:
        per_amp = _watts_per_amp(s, voltage)
        # Round the current down to what a profile carries, then the power from it.
        amps = _floor(levels[s.key], 0.1)
        watts = _floor(amps * per_amp)
        reason = reasons.get(s.key, Reason.SHARE)
        results[s.key] = SessionAllocation(s.key, int(watts), amps, reason)
    return _result(sessions, results, capacity, uncontrolled_w, over_limit)


def _result(sessions, results, capacity, uncontrolled_w, over_limit) -> Allocation:
    return Allocation(
        sessions=tuple(results[s.key] for s in sessions),
        capacity_w=capacity.power_w,
        uncontrolled_w=uncontrolled_w,
        over_limit=over_limit,
    )


@dataclass(frozen=True)
class ConnectorMeans:
    """A connector of a charger as its maximum profile sees it."""

    max_w: float
    phases: int = 3  # 1: a one-phase connector
    phase: int | None = None  # the phase a one-phase connector is wired to, when known


@dataclass(frozen=True)
class ChargerCap:
    """A charger's maximum profile: in watts, or in amperes per phase (`phases` 1: on one)."""

    limit_w: int
    current_a: float
    phases: int


def _phases_loaded(connector: ConnectorMeans) -> tuple[int, ...]:
    if connector.phases == 1 and connector.phase in PHASES:
        return (connector.phase,)
    return PHASES


def charger_cap(
    *, capacity: SiteCapacity, connectors: Sequence[ConnectorMeans]
) -> ChargerCap | None:
    """The most a charger may ever draw at a site: what `allocate` can give its sessions at most.

    Never below the sum of its sessions' allocations (in watts) nor below what
    they draw on any one phase (in amperes), whatever the sessions; so it
    caps the charger as a whole without ever holding a session under its
    share. None for a site without limits.
    """
    if capacity.unlimited or not connectors:
        return None
    voltage = capacity.voltage_v
    loaded = {phase for c in connectors for phase in _phases_loaded(c)}
    common = set(PHASES).intersection(*(_phases_loaded(c) for c in connectors))
    # One-phase connectors all counted on one same phase (an unknown phase counts on
    # all three): their currents add up under that phase's limit, so one current caps
    # the charger's total (numberPhases 1). Otherwise the cap is per phase.
    single = all(c.phases == 1 for c in connectors) and bool(common)
    watts = [sum(c.max_w for c in connectors)]
    if capacity.power_w is not None:
        watts.append(capacity.power_w)
    if capacity.phase_current_a is not None:
        watts.append(capacity.phase_current_a * voltage * (1 if single else len(loaded)))
    amps = [
        max(
            sum(c.max_w / (c.phases * voltage) for c in connectors if phase in _phases_loaded(c))
            for phase in PHASES
        )
    ]
    if capacity.phase_current_a is not None:
        amps.append(capacity.phase_current_a)
    if capacity.power_w is not None:
        any_single = any(c.phases == 1 for c in connectors)
        amps.append(capacity.power_w / (voltage * (1 if any_single else 3)))
    # Rounded down like the shares: the sum of rounded-down shares never exceeds it.
    return ChargerCap(
        limit_w=int(_floor(min(watts))),
        current_a=round(_floor(min(amps), 0.1), 1),
        phases=1 if single else 3,
    )


def with_offers(sessions: Sequence[SessionDemand], allocation: Allocation) -> list[SessionDemand]:
    """The sessions with this allocation as their last offer (for the next round)."""
    return [
        replace(s, offered_w=float(allocation.by_key[s.key].allocated_w))
        if s.key in allocation.by_key
        else s
        for s in sessions
    ]

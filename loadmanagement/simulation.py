"""A day at a site, simulated: EVs arrive, charge under the engine's allocation, leave.

Pure Python on top of the engine (no database, no protocol), so that a day
of a 20-charger site runs in a second: the test of the engine's promises at
site scale (tests/test_simulation.py) and `manage.py loadmgmt_simulate`.

Each minute the engine allocates from what the EVs drew the minute before
(their measured draw); each EV then draws what it was given, up to what its
onboard charger accepts, less as its battery fills (a taper above 80 %).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .engine import SessionDemand, SiteCapacity, Tuning, allocate

VOLTAGE = 230.0
STEP = timedelta(minutes=1)
DAY_START = datetime(2026, 12, 1, tzinfo=UTC)


@dataclass
class Vehicle:
    key: int
    charger: int
    arrives: datetime
    leaves: datetime
    battery_wh: float
    need_wh: float
    accepts_w: float  # its onboard charger's maximum
    delivered_wh: float = 0.0
    offered_w: float | None = None
    drawn_w: float | None = None

    def taper_w(self) -> float:
        """What it accepts now: full power up to 80 % of its need, then down to a quarter."""
        share = self.delivered_wh / self.need_wh if self.need_wh else 1.0
        if share < 0.8:
            return self.accepts_w
        return self.accepts_w * max(0.25, 1 - (share - 0.8) / 0.2 * 0.75)

    @property
    def done(self) -> bool:
        return self.delivered_wh >= self.need_wh - 1e-6


@dataclass
class DayReport:
    chargers: int
    capacity_w: float
    peak_w: float
    unmanaged_peak_w: float
    requested_wh: float
    delivered_wh: float
    sessions: int
    satisfied: int
    waited_minutes: int
    peak_sessions: int
    per_minute_w: list[float] = field(repr=False, default_factory=list)


def vehicles_of_a_day(*, chargers: int, seed: int) -> list[Vehicle]:
    """Arrivals in a morning and an evening wave, two or three visits per charger."""
    rng = random.Random(seed)
    vehicles, key = [], 0
    for charger in range(chargers):
        at = DAY_START + timedelta(hours=rng.uniform(6, 9))
        while at < DAY_START + timedelta(hours=21):
            stay = timedelta(hours=rng.uniform(1.5, 9))
            accepts = rng.choice([11_040.0, 11_040.0, 7_360.0, 3_680.0])
            key += 1
            need = rng.uniform(8_000, 45_000)
            vehicles.append(
                Vehicle(
                    key=key,
                    charger=charger,
                    arrives=at,
                    leaves=min(at + stay, DAY_START + timedelta(hours=24)),
                    battery_wh=need * 1.5,
                    need_wh=need,
                    accepts_w=accepts,
                )
            )
            at = at + stay + timedelta(minutes=rng.uniform(5, 120))
    return vehicles


def simulate_day(
    *,
    chargers: int = 20,
    feeds: int = 8,
    charger_max_w: float = 11_040.0,
    min_current_a: float = 6.0,
    seed: int = 1,
    tuning: Tuning | None = None,
) -> DayReport:
    """Run a day at a site whose limit feeds `feeds` chargers at full power."""
    capacity_w = feeds * charger_max_w
    capacity = SiteCapacity(power_w=capacity_w, voltage_v=VOLTAGE)
    vehicles = vehicles_of_a_day(chargers=chargers, seed=seed)
    per_minute, peak_sessions, waited = [], 0, 0
    unmanaged_peak = 0.0
    now = DAY_START
    while now < DAY_START + timedelta(hours=24):
        present = [v for v in vehicles if v.arrives <= now < v.leaves and not v.done]
        peak_sessions = max(peak_sessions, len(present))
        unmanaged_peak = max(unmanaged_peak, sum(min(v.taper_w(), charger_max_w) for v in present))
        demands = [
            SessionDemand(
                key=v.key,
                started_at=v.arrives,
                max_w=charger_max_w,
                min_w=min_current_a * 3 * VOLTAGE,
                offered_w=v.offered_w,
                measured_w=v.drawn_w,
            )
            for v in present
        ]
        allocation = allocate(capacity=capacity, sessions=demands, tuning=tuning)
        site_w = 0.0
        for v in present:
            given = allocation.by_key[v.key].allocated_w
            waited += given == 0
            drawn = min(given, v.taper_w())
            v.offered_w, v.drawn_w = float(given), drawn
            v.delivered_wh = min(v.need_wh, v.delivered_wh + drawn * STEP.total_seconds() / 3600)
            site_w += drawn
        per_minute.append(site_w)
        now += STEP
    return DayReport(
        chargers=chargers,
        capacity_w=capacity_w,
        peak_w=max(per_minute),
        unmanaged_peak_w=unmanaged_peak,
        requested_wh=sum(v.need_wh for v in vehicles),
        delivered_wh=sum(v.delivered_wh for v in vehicles),
        sessions=len(vehicles),
        satisfied=sum(1 for v in vehicles if v.done),
        waited_minutes=waited,
        peak_sessions=peak_sessions,
        per_minute_w=per_minute,
    )

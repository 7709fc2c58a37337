"""A session's energy over time, from its register readings (pure, no database).

Meter values are samples of a cumulative register; between two samples the
energy is taken to flow at a constant rate. Pricing splits a session at
time-of-day boundaries, and the roll-up at clock hours, with this one
piece of arithmetic, so that both agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

ZERO = Decimal("0")


@dataclass(frozen=True)
class Point:
    """Energy delivered since the session started (Wh), at an instant."""

    at: datetime
    wh: Decimal


def energy_curve(
    *,
    start: datetime,
    stop: datetime | None,
    total_wh: int | Decimal | None,
    readings: Iterable[tuple[datetime, Decimal]],
) -> tuple[Point, ...]:
    """Cumulative energy from 0 at `start` to `total_wh` at `stop`, through the readings.

    `readings` are (instant, Wh since start). Readings outside the session
    are dropped; a reading below an earlier one (a glitch, a meter swap) is
    held at the earlier value, and none exceeds the session's total, so the
    curve never runs backwards and always ends at the energy billed. An open
    session (`stop` None) ends at its last reading.
    """
    cap = Decimal(total_wh) if stop is not None and total_wh is not None else None
    points = [Point(start, ZERO)]
    inside = sorted(
        (at, Decimal(wh)) for at, wh in readings if at > start and (stop is None or at < stop)
    )
    highest = ZERO
    for at, wh in inside:
        highest = max(highest, wh)
        if cap is not None:
            highest = min(highest, cap)
        points.append(Point(at, highest))
    if stop is not None and stop > start:
        points.append(Point(stop, highest if cap is None else cap))
    return tuple(points)


def energy_at(curve: tuple[Point, ...], at: datetime) -> Decimal:
    """Energy delivered by `at`, interpolated linearly between points."""
    if not curve or at <= curve[0].at:
        return ZERO
    for before, after in zip(curve, curve[1:], strict=False):
        if at < after.at:
            span = (after.at - before.at).total_seconds()
            elapsed = (at - before.at).total_seconds()
            return before.wh + (after.wh - before.wh) * Decimal(elapsed) / Decimal(span)
    return curve[-1].wh


def energy_between(curve: tuple[Point, ...], start: datetime, end: datetime) -> Decimal:
    """Energy delivered between two instants (Wh)."""
    if end <= start:
        return ZERO
    return energy_at(curve, end) - energy_at(curve, start)


def charging_end(curve: tuple[Point, ...], *, threshold_w: int) -> datetime | None:
    """When charging ended: the end of the last stretch drawing more than `threshold_w`.

    Without such a stretch, the end of the last one that drew anything; None
    when the curve shows no energy at all.
    """
    last_above = last_any = None
    for before, after in zip(curve, curve[1:], strict=False):
        delta_wh = after.wh - before.wh
        if delta_wh <= 0:
            continue
        hours = Decimal((after.at - before.at).total_seconds()) / 3600
        last_any = after.at
        if delta_wh > hours * threshold_w:
            last_above = after.at
    return last_above or last_any

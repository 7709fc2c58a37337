"""The energy of a session, worked out from its register readings across meter resets.

A session's readings of Energy.Active.Import.Register, in order: meterStart,
every sample of the session (by timestamp), meterStop. A reading below the
one before it is either

- a reset (the meter restarted near zero: a firmware update, a power cut, a
  rollover): a new segment starts at that reading, or
- a register going backwards without a reset pattern (a faulty meter): the
  reading is left out and the session is disputed.

The energy is the sum over segments of (highest reading - first reading).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from ..choices import EnergySource

# A drop counts as a reset when the new reading is at most this share of the
# previous one, or below RESET_CEILING_WH: meters restart at or near zero.
RESET_SHARE = Decimal("0.1")
RESET_CEILING_WH = Decimal(1000)
# The column is a signed 64-bit integer; a wilder figure is kept at its end.
ENERGY_MAX_WH = 2**63 - 1


@dataclass(frozen=True)
class Backwards:
    """A reading below the one before it that does not look like a reset."""

    from_wh: Decimal
    to_wh: Decimal
    at: datetime | None


@dataclass
class SessionEnergy:
    energy_wh: int
    source: str
    segments: list[dict] = field(default_factory=list)
    backwards: list[Backwards] = field(default_factory=list)
    # meterStop below meterStart and no reading in between: nobody knows.
    unknown: bool = False


def _is_reset(previous: Decimal, current: Decimal) -> bool:
    return current <= RESET_CEILING_WH or current <= previous * RESET_SHARE


def session_energy(
    *,
    meter_start: int,
    meter_stop: int | None,
    readings: list[tuple[datetime, Decimal]],
) -> SessionEnergy:
    """The energy of a session from meterStart, its register readings and meterStop."""
    points: list[tuple[datetime | None, Decimal, str]] = [(None, Decimal(meter_start), "start")]
    points += [(at, wh, "sample") for at, wh in readings]
    if meter_stop is not None:
        points.append((None, Decimal(meter_stop), "stop"))

    segments: list[list[Decimal]] = [[points[0][1], points[0][1]]]  # [first, highest]
    backwards: list[Backwards] = []
    last = points[0][1]
    reset_at_stop = False
    for at, wh, kind in points[1:]:
        if wh >= last:
            segments[-1][1] = max(segments[-1][1], wh)
            last = wh
        elif _is_reset(last, wh):
            segments.append([wh, wh])
            last = wh
            reset_at_stop = kind == "stop"
        else:
            backwards.append(Backwards(from_wh=last, to_wh=wh, at=at))
    total = sum((high - first for first, high in segments), Decimal(0))
    energy = min(int(total), ENERGY_MAX_WH)
    unknown = reset_at_stop and not readings and meter_stop is not None
    if meter_stop is None and not readings:
        source = EnergySource.NONE
    elif len(segments) == 1 and meter_stop is not None and segments[0][1] == meter_stop:
        source = EnergySource.METER_STOP
    elif energy > 0 or readings:
        source = EnergySource.METER_VALUES
    else:
        source = EnergySource.NONE if unknown else EnergySource.METER_STOP
    return SessionEnergy(
        energy_wh=energy,
        source=source,
        segments=[{"from_wh": int(first), "to_wh": int(high)} for first, high in segments],
        backwards=backwards,
        unknown=unknown,
    )

"""Price one session: a tariff snapshot and the session's facts in, invoice lines out.

Pure: no database, no settings, no clock, so that every rule is tested as a
table and an invoice can be recomputed from what it stored. The rules:

- Energy is billed per kWh. With time-of-day periods, the session is cut at
  the periods' local wall-clock boundaries (and at DST changes) and each
  slice's energy comes from the register readings, linearly between two
  readings; without readings it is spread evenly over the session.
- Charging time runs from the start until charging ended: the end of the
  last stretch between readings drawing more than the idle power threshold.
  The rest, after the grace period, is idle time. Without readings in
  between, the whole session counts as charging.
- The flat session fee is added, then the minimum or maximum per session
  applies to the net sum, as an adjustment line.
- Each line is rounded to the currency's minor unit; VAT is computed on the
  net total and rounded once.
- A session that delivered no energy is a zero invoice: no fee, no minimum
  (whether it is invoiced at all is decided by the caller).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .energy import ZERO, charging_end, energy_between, energy_curve
from .money import round_money

KWH_PLACES = Decimal("0.0001")
MINUTE_PLACES = Decimal("0.0001")
ONE = Decimal("1")
# Every zone in the tz database changes its offset at a UTC quarter hour.
DST_PROBE_STEP = timedelta(minutes=15)


class Component(StrEnum):
    ENERGY = "energy"
    TIME = "time"
    IDLE = "idle"
    SESSION_FEE = "session_fee"
    MINIMUM = "minimum"
    MAXIMUM = "maximum"


class PricingError(Exception):
    """The session cannot be priced until the operator fixes the configuration."""


def _decimal(value, default: Decimal | None = ZERO) -> Decimal | None:
    return default if value is None or value == "" else Decimal(str(value))


@dataclass(frozen=True)
class Period:
    """A local time of day with its own prices (None: the tariff's)."""

    start: time
    end: time
    price_per_kwh: Decimal | None = None
    price_per_minute: Decimal | None = None

    def contains(self, moment: time) -> bool:
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end  # across midnight

    @property
    def label(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class Terms:
    """The prices of a tariff, as the invoice's snapshot keeps them."""

    currency: str
    price_per_kwh: Decimal = ZERO
    price_per_minute: Decimal = ZERO
    idle_price_per_minute: Decimal = ZERO
    idle_grace_minutes: int = 0
    idle_power_threshold_w: int = 100
    session_fee: Decimal = ZERO
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    vat_rate: Decimal = ZERO
    periods: tuple[Period, ...] = ()

    @classmethod
    def from_snapshot(cls, snapshot: Mapping) -> Terms:
        """Read a snapshot; keys missing from older snapshots take the defaults."""
        periods = tuple(
            Period(
                start=time.fromisoformat(item["start"]),
                end=time.fromisoformat(item["end"]),
                price_per_kwh=_decimal(item.get("price_per_kwh"), None),
                price_per_minute=_decimal(item.get("price_per_minute"), None),
            )
            for item in snapshot.get("periods", ())
        )
        return cls(
            currency=snapshot["currency"],
            price_per_kwh=_decimal(snapshot.get("price_per_kwh")),
            price_per_minute=_decimal(snapshot.get("price_per_minute")),
            idle_price_per_minute=_decimal(snapshot.get("idle_price_per_minute")),
            idle_grace_minutes=int(snapshot.get("idle_grace_minutes") or 0),
            idle_power_threshold_w=int(snapshot.get("idle_power_threshold_w", 100)),
            session_fee=_decimal(snapshot.get("session_fee")),
            min_price=_decimal(snapshot.get("min_price"), None),
            max_price=_decimal(snapshot.get("max_price"), None),
            vat_rate=_decimal(snapshot.get("vat_rate")),
            periods=tuple(sorted(periods, key=lambda period: period.start)),
        )

    def period_at(self, moment: time) -> Period | None:
        return next((period for period in self.periods if period.contains(moment)), None)

    def kwh_price(self, period: Period | None) -> Decimal:
        if period is None or period.price_per_kwh is None:
            return self.price_per_kwh
        return period.price_per_kwh

    def minute_price(self, period: Period | None) -> Decimal:
        if period is None or period.price_per_minute is None:
            return self.price_per_minute
        return period.price_per_minute

    @property
    def bills_time(self) -> bool:
        return any(self.minute_price(period) > 0 for period in (None, *self.periods))


def periods_overlap(periods: Iterable[Period]) -> bool:
    """True when two periods share a minute of the day (their prices would clash)."""
    minutes = [0] * 24 * 60
    for period in periods:
        start = period.start.hour * 60 + period.start.minute
        end = period.end.hour * 60 + period.end.minute
        span = range(start, end) if start < end else [*range(start, 1440), *range(0, end)]
        for minute in span:
            minutes[minute] += 1
            if minutes[minute] > 1:
                return True
    return False


@dataclass(frozen=True)
class SessionFacts:
    """What pricing needs to know about a finished session."""

    start: datetime
    stop: datetime
    energy_wh: int
    time_zone: str = "UTC"
    # Energy register readings: (instant, Wh delivered since the start).
    readings: tuple[tuple[datetime, Decimal], ...] = field(default=())


@dataclass(frozen=True)
class Line:
    component: Component
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Bill:
    currency: str
    lines: tuple[Line, ...]
    net: Decimal
    vat: Decimal
    total: Decimal


def zone_get(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PricingError(f"unknown time zone {name!r}") from exc


def price_session(terms: Terms, facts: SessionFacts) -> Bill:
    """The invoice lines and totals of one session under one tariff."""
    zone = zone_get(facts.time_zone)
    if facts.energy_wh <= 0:
        line = _line(terms, Component.ENERGY, "Energy", ZERO, "kWh", terms.price_per_kwh)
        return _bill(terms, [line])

    start, stop = facts.start, max(facts.stop, facts.start)
    curve = energy_curve(start=start, stop=stop, total_wh=facts.energy_wh, readings=facts.readings)
    ended = charging_end(curve, threshold_w=terms.idle_power_threshold_w) or stop
    energy: dict[Period | None, Decimal] = {}
    minutes: dict[Period | None, Decimal] = {}
    if stop == start:  # a clock error: all of it at one instant
        period = terms.period_at(start.astimezone(zone).time())
        energy[_kwh_key(period)] = Decimal(facts.energy_wh)
    for slice_start, slice_end, period in price_slices(terms, zone, start, stop, ended):
        key = _kwh_key(period)
        energy[key] = energy.get(key, ZERO) + energy_between(curve, slice_start, slice_end)
        if slice_end <= ended:
            key = _minute_key(period)
            seconds = Decimal((slice_end - slice_start).total_seconds())
            minutes[key] = minutes.get(key, ZERO) + seconds / 60

    lines = _grouped_lines(
        terms, Component.ENERGY, "Energy", "kWh", {p: wh / 1000 for p, wh in energy.items()}
    )
    if terms.bills_time:
        lines += _grouped_lines(terms, Component.TIME, "Charging time", "min", minutes)
    lines += _idle_lines(terms, idle=stop - ended)
    if terms.session_fee > 0:
        lines.append(
            _line(terms, Component.SESSION_FEE, "Session fee", ONE, "session", terms.session_fee)
        )
    lines += _limit_lines(terms, net=sum((line.amount for line in lines), ZERO))
    return _bill(terms, lines)


def _kwh_key(period: Period | None) -> Period | None:
    """The line a slice's energy goes to: its period's, or the tariff's own price."""
    return period if period is not None and period.price_per_kwh is not None else None


def _minute_key(period: Period | None) -> Period | None:
    return period if period is not None and period.price_per_minute is not None else None


def price_slices(terms: Terms, zone: ZoneInfo, start: datetime, stop: datetime, ended: datetime):
    """Cut [start, stop) where a period begins or ends, the clock changes, or charging ends.

    Every cut of a wall-clock boundary is taken in both folds, so that a
    boundary in the hour repeated when clocks go back is cut twice.
    """
    cuts = {ended}
    if terms.periods:
        wall_times = {period.start for period in terms.periods}
        wall_times |= {period.end for period in terms.periods}
        day = start.astimezone(zone).date() - timedelta(days=1)
        last_day = stop.astimezone(zone).date() + timedelta(days=1)
        while day <= last_day:
            cuts |= {
                _instant(day, wall_time, zone, fold) for wall_time in wall_times for fold in (0, 1)
            }
            day += timedelta(days=1)
        cuts |= _offset_changes(zone, start, stop)
    edges = [start, *sorted(cut for cut in cuts if start < cut < stop), stop]
    for slice_start, slice_end in zip(edges, edges[1:], strict=False):
        if slice_end > slice_start:
            middle = (slice_start + (slice_end - slice_start) / 2).astimezone(zone)
            yield slice_start, slice_end, terms.period_at(middle.time())


def _instant(day: date, wall_time: time, zone: ZoneInfo, fold: int) -> datetime:
    return datetime.combine(day, wall_time, tzinfo=zone).replace(fold=fold).astimezone(UTC)


def _offset_changes(zone: ZoneInfo, start: datetime, stop: datetime) -> set[datetime]:
    """The instants in [start, stop] at which the zone's UTC offset changes."""
    probe = start.astimezone(UTC).replace(second=0, microsecond=0)
    probe -= timedelta(minutes=probe.minute % 15)
    changes, offset = set(), probe.astimezone(zone).utcoffset()
    while probe <= stop:
        probe += DST_PROBE_STEP
        current = probe.astimezone(zone).utcoffset()
        if current != offset:
            changes.add(probe)
            offset = current
    return changes


def _apportion(values: list[Decimal], places: Decimal) -> list[Decimal]:
    """Round each value so that the rounded values add up to the rounded sum."""
    rounded, running, previous = [], ZERO, ZERO
    for value in values:
        running += value
        total = running.quantize(places, rounding=ROUND_HALF_UP)
        rounded.append(total - previous)
        previous = total
    return rounded


def _grouped_lines(
    terms: Terms,
    component: Component,
    name: str,
    unit: str,
    quantities: dict[Period | None, Decimal],
) -> list[Line]:
    """One line per period (in the order met), plus one at the tariff's own price."""
    places = KWH_PLACES if unit == "kWh" else MINUTE_PLACES
    periods = list(quantities)
    rounded = _apportion([quantities[period] for period in periods], places)
    lines = []
    for period, quantity in zip(periods, rounded, strict=True):
        if quantity <= 0:
            continue
        price = terms.kwh_price(period) if unit == "kWh" else terms.minute_price(period)
        description = name if period is None else f"{name} {period.label}"
        lines.append(_line(terms, component, description, quantity, unit, price))
    return lines


def _idle_lines(terms: Terms, *, idle: timedelta) -> list[Line]:
    if terms.idle_price_per_minute <= 0:
        return []
    idle_minutes = Decimal(idle.total_seconds()) / 60 - terms.idle_grace_minutes
    quantity = idle_minutes.quantize(MINUTE_PLACES, rounding=ROUND_HALF_UP)
    if quantity <= 0:
        return []
    description = "Idle fee"
    if terms.idle_grace_minutes:
        description += f" (after {terms.idle_grace_minutes} min grace)"
    return [_line(terms, Component.IDLE, description, quantity, "min", terms.idle_price_per_minute)]


def _limit_lines(terms: Terms, *, net: Decimal) -> list[Line]:
    if terms.min_price is not None and net < terms.min_price:
        gap = terms.min_price - net
        return [_line(terms, Component.MINIMUM, "Minimum per session", ONE, "session", gap)]
    if terms.max_price is not None and net > terms.max_price:
        cut = terms.max_price - net
        return [_line(terms, Component.MAXIMUM, "Maximum per session", ONE, "session", cut)]
    return []


def _line(
    terms: Terms,
    component: Component,
    description: str,
    quantity: Decimal,
    unit: str,
    unit_price: Decimal,
) -> Line:
    amount = round_money(quantity * unit_price, terms.currency)
    return Line(component, description, quantity, unit, unit_price, amount)


def _bill(terms: Terms, lines: list[Line]) -> Bill:
    net = round_money(sum((line.amount for line in lines), ZERO), terms.currency)
    vat = round_money(net * terms.vat_rate / 100, terms.currency)
    return Bill(terms.currency, tuple(lines), net, vat, net + vat)

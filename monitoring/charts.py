"""A session's energy and power over time as an inline SVG: no JavaScript, no CDN.

Energy is the session's cumulative curve (billing.energy: the same one
pricing and the roll-up use, from 0 at the start to the billed total at the
stop). Power is the charger's Power.Active.Import when it reports it, else
derived from the energy between readings (and labelled so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from billing.energy import energy_curve
from stations.models import Transaction
from stations.selectors import transaction_timeseries

POWER_MEASURAND = "Power.Active.Import"
WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 70, 40, 44
MAX_POINTS = 600
ENERGY_COLOR, POWER_COLOR, GRID_COLOR = "#417690", "#e0892b", "#c8c8c8"


@dataclass(frozen=True)
class ChartData:
    energy_kwh: list[tuple[datetime, float]]
    power_kw: list[tuple[datetime, float]]
    power_derived: bool


def _thin(points: list, limit: int = MAX_POINTS) -> list:
    """At most `limit` points, evenly picked, the first and last kept."""
    if len(points) <= limit:
        return points
    step = (len(points) - 1) / (limit - 1)
    return [points[round(i * step)] for i in range(limit)]


def _derived_power(energy: list[tuple[datetime, float]]) -> list[tuple[datetime, float]]:
    """Average power between consecutive energy points, as steps."""
    steps = []
    for (start, kwh_start), (end, kwh_end) in zip(energy, energy[1:], strict=False):
        hours = (end - start).total_seconds() / 3600
        if hours > 0:
            kw = max(0.0, (kwh_end - kwh_start) / hours)
            steps += [(start, kw), (end, kw)]
    return steps


def transaction_chart_data(*, transaction: Transaction) -> ChartData:
    readings = transaction_timeseries(transaction=transaction).points
    curve = energy_curve(
        start=transaction.start_timestamp,
        stop=transaction.stop_timestamp,
        total_wh=transaction.energy_wh,
        readings=[(at, Decimal(str(wh))) for at, wh in readings],
    )
    energy = [(point.at, float(point.wh) / 1000) for point in curve]
    power = transaction_timeseries(transaction=transaction, measurand=POWER_MEASURAND)
    if power.points and power.unit in ("W", "kW"):
        factor = 0.001 if power.unit == "W" else 1.0
        measured = [(at, value * factor) for at, value in power.points]
        return ChartData(_thin(energy), _thin(measured), power_derived=False)
    return ChartData(_thin(energy), _thin(_derived_power(energy)), power_derived=True)


def _nice_step(raw: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above `raw`."""
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw - 1e-12)


def nice_ticks(maximum: float, count: int = 5, intervals: int | None = None) -> list[float]:
    """0, step, 2 step, ... up to a round top at or above `maximum`.

    With `intervals`, exactly that many steps (a second axis sharing the grid).
    """
    maximum = maximum if maximum > 0 else 1.0
    if intervals is not None:
        step = _nice_step(maximum / intervals)
        return [round(i * step, 10) for i in range(intervals + 1)]
    step = _nice_step(maximum / count)
    steps = math.ceil(maximum / step - 1e-9)
    return [round(i * step, 10) for i in range(steps + 1)]


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _time_label(at: datetime, long: bool) -> str:
    local = timezone.localtime(at)
    return local.strftime("%d.%m %H:%M" if long else "%H:%M")


class _Frame:
    """Maps data to the plot area."""

    def __init__(self, start: datetime, end: datetime):
        self.start = start
        self.seconds = max((end - start).total_seconds(), 60.0)
        self.width, self.height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(self, at: datetime) -> float:
        return LEFT + (at - self.start).total_seconds() / self.seconds * self.width

    def y(self, value: float, top: float) -> float:
        value = min(max(value, 0.0), top)  # a bogus reading stays inside the plot
        return TOP + self.height - value / top * self.height

    def polyline(self, points, top: float, color: str, css: str) -> str:
        coords = " ".join(f"{self.x(at):.1f},{self.y(v, top):.1f}" for at, v in points)
        return (
            f'<polyline class="{css}" fill="none" stroke="{color}" stroke-width="2" '
            f'stroke-linejoin="round" points="{coords}"/>'
        )


def transaction_chart_svg(*, transaction: Transaction) -> SafeString:
    """The chart of one session (an <svg> element)."""
    data = transaction_chart_data(transaction=transaction)
    title = escape(_("Energy and power of transaction %(id)s") % {"id": transaction.pk})
    times = [at for at, _v in data.energy_kwh + data.power_kw]
    if len(data.energy_kwh) < 2 and not data.power_kw:
        empty = escape(_("No meter values yet."))
        return mark_safe(
            f'<svg class="meter-chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
            f'height="60" role="img"><title>{title}</title><text x="0" y="30" '
            f'fill="currentColor">{empty}</text></svg>'
        )
    frame = _Frame(min(times), max(times))
    energy_ticks = nice_ticks(max(v for _at, v in data.energy_kwh) if data.energy_kwh else 0)
    power_ticks = nice_ticks(
        max((v for _at, v in data.power_kw), default=0), intervals=len(energy_ticks) - 1
    )
    parts = [
        f'<svg class="meter-chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'font-family="sans-serif" font-size="11"><title>{title}</title>'
    ]
    for index, value in enumerate(energy_ticks):
        y = frame.y(value, energy_ticks[-1])
        power = power_ticks[index]
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID_COLOR}" stroke-dasharray="2,3"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{ENERGY_COLOR}">'
            f"{_number(value)}</text>"
            f'<text x="{WIDTH - RIGHT + 6}" y="{y + 4:.1f}" fill="{POWER_COLOR}">'
            f"{_number(power)}</text>"
        )
    long = frame.seconds > 86400
    for index in range(6):
        at = frame.start + timedelta(seconds=frame.seconds * index / 5)
        x = frame.x(at)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{HEIGHT - BOTTOM}" y2="{HEIGHT - BOTTOM + 4}" '
            f'stroke="currentColor"/><text x="{x:.1f}" y="{HEIGHT - BOTTOM + 17}" '
            f'text-anchor="middle" fill="currentColor">{_time_label(at, long)}</text>'
        )
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{HEIGHT - BOTTOM}" y2="{HEIGHT - BOTTOM}" '
        f'stroke="currentColor"/>'
    )
    if data.power_kw:
        parts.append(frame.polyline(data.power_kw, power_ticks[-1], POWER_COLOR, "power"))
    if data.energy_kwh:
        parts.append(frame.polyline(data.energy_kwh, energy_ticks[-1], ENERGY_COLOR, "energy"))
    energy_label = escape(_("Energy (kWh)"))
    power_label = escape(_("Power (kW, from energy)") if data.power_derived else _("Power (kW)"))
    time_label = escape(_("time (%(zone)s)") % {"zone": timezone.get_current_timezone_name()})
    parts.append(
        f'<rect x="{LEFT}" y="12" width="14" height="4" fill="{ENERGY_COLOR}"/>'
        f'<text x="{LEFT + 20}" y="18" fill="currentColor">{energy_label}</text>'
        f'<rect x="{LEFT + 190}" y="12" width="14" height="4" fill="{POWER_COLOR}"/>'
        f'<text x="{LEFT + 210}" y="18" fill="currentColor">{power_label}</text>'
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 6}" text-anchor="end" fill="currentColor">'
        f"{time_label}</text></svg>"
    )
    return mark_safe("".join(parts))  # every text above is escaped

"""A site's power over time as an inline SVG (no JavaScript): limit, allocated, measured.

Drawn from the decision journal (one point per recomputation: every session
start and stop, every limit change, and at least every few minutes while
sessions run), in the way monitoring.charts draws a session.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from monitoring.charts import nice_ticks

from .models import SiteLimit
from .selectors import decisions_recent

WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 20, 36, 40
HOURS = 6
SERIES = (
    ("capacity_w", "#c0392b", "limit"),
    ("allocated_w", "#417690", "allocated"),
    ("measured_w", "#e0892b", "measured"),
)


def _steps(points: list[tuple[datetime, float | None]], end: datetime):
    """A step line: each value holds until the next decision."""
    steps = []
    for (at, value), (after, _next) in zip(points, points[1:] + [(end, None)], strict=True):
        if value is not None:
            steps += [(at, value), (after, value)]
    return steps


def site_chart_svg(*, site: SiteLimit, hours: int = HOURS) -> SafeString:
    now = timezone.now()
    start = now - timedelta(hours=hours)
    decisions = list(decisions_recent(site=site, since=start))
    title = escape(_("Power of %(site)s, last %(hours)s hours") % {"site": site, "hours": hours})
    if not decisions:
        empty = escape(_("No allocation decisions in this period."))
        return mark_safe(
            f'<svg class="site-chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
            f'height="40" role="img"><title>{title}</title><text x="0" y="24" '
            f'fill="currentColor">{empty}</text></svg>'
        )
    series = {}
    for name, _color, _label in SERIES:
        points = [
            (d.created_at, None if getattr(d, name) is None else getattr(d, name) / 1000)
            for d in decisions
        ]
        series[name] = _steps(points, now)
    top = nice_ticks(max((v for s in series.values() for _at, v in s), default=1))
    first = decisions[0].created_at
    seconds = max((now - first).total_seconds(), 60.0)
    width, height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(at):
        return LEFT + (at - first).total_seconds() / seconds * width

    def y(value):
        return TOP + height - min(max(value, 0), top[-1]) / top[-1] * height

    parts = [
        f'<svg class="site-chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'font-family="sans-serif" font-size="11"><title>{title}</title>'
    ]
    for value in top:
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="#c8c8c8" stroke-dasharray="2,3"/><text x="{LEFT - 6}" '
            f'y="{y(value) + 4:.1f}" text-anchor="end" fill="currentColor">{value:g}</text>'
        )
    for index in range(6):
        at = first + timedelta(seconds=seconds * index / 5)
        label = timezone.localtime(at).strftime("%H:%M")
        parts.append(
            f'<text x="{x(at):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
            f'fill="currentColor">{label}</text>'
        )
    legend_x = LEFT
    for name, color, label in SERIES:
        points = series[name]
        if points:
            coords = " ".join(f"{x(at):.1f},{y(v):.1f}" for at, v in points)
            parts.append(
                f'<polyline class="{label}" fill="none" stroke="{color}" stroke-width="2" '
                f'points="{coords}"/>'
            )
        text = escape(
            {
                "limit": _("limit (kW)"),
                "allocated": _("allocated (kW)"),
                "measured": _("measured (kW)"),
            }[label]
        )
        parts.append(
            f'<rect x="{legend_x}" y="12" width="14" height="4" fill="{color}"/>'
            f'<text x="{legend_x + 20}" y="18" fill="currentColor">{text}</text>'
        )
        legend_x += 150
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text above is escaped or a number

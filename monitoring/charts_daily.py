"""A value per day as an inline SVG bar chart: no JavaScript, no CDN (monitoring.charts' way).

Used by the revenue report (revenue and energy per day of a month). The
axis shares monitoring.charts' round ticks; every text is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .charts import nice_ticks

WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 72, 16, 28, 36
GRID_COLOR = "#c8c8c8"


def _label(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def daily_bars_svg(
    *, days: Sequence[date], values: Sequence[float], title: str, unit: str, color: str = "#417690"
) -> SafeString:
    """One bar per day (`values[i]` for `days[i]`), a y axis in `unit`, day numbers below."""
    count = max(len(days), 1)
    ticks = nice_ticks(max(values, default=0.0))
    top = ticks[-1]
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_width / count
    bar = max(slot * 0.7, 1.0)
    parts = [
        f'<svg class="revenue-chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" font-family="sans-serif" '
        f'font-size="11"><title>{escape(title)}</title>'
    ]
    for value in ticks:
        y = TOP + plot_height - value / top * plot_height
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID_COLOR}" stroke-dasharray="2,3"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="currentColor">'
            f"{escape(_label(value))}</text>"
        )
    for index, (day, value) in enumerate(zip(days, values, strict=True)):
        x = LEFT + index * slot + (slot - bar) / 2
        height = max(value, 0.0) / top * plot_height
        parts.append(
            f'<rect x="{x:.1f}" y="{TOP + plot_height - height:.1f}" width="{bar:.1f}" '
            f'height="{height:.1f}" fill="{color}" data-day="{day.isoformat()}">'
            f"<title>{escape(day.isoformat())}: {escape(_label(value))} {escape(unit)}</title>"
            "</rect>"
        )
        if count <= 16 or index % 2 == 0:  # every day's number while they fit
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - BOTTOM + 15}" text-anchor="middle" '
                f'fill="currentColor">{day.day}</text>'
            )
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_height}" '
        f'y2="{TOP + plot_height}" stroke="currentColor"/>'
        f'<text x="{LEFT}" y="16" fill="currentColor">{escape(unit)}</text></svg>'
    )
    return mark_safe("".join(parts))  # every text above is escaped

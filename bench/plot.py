"""PNG plots of the results: msgs/s and p99 latency against the number of connections.

One line per server configuration; logarithmic axes, because the bare echo
server and the project differ by an order of magnitude in both. matplotlib
(requirements-bench.txt) with the Agg backend: no display needed. Without
matplotlib the results are written all the same, without the picture.
"""

from __future__ import annotations

import sys
from pathlib import Path

# (key, axis title) of the two panels, per scenario.
PANELS = {
    "halfpeak": (
        ("peak_msgs_per_s", "peak msgs/s (closed loop)"),
        ("p99_ms", "p99 ms at half the peak rate"),
    ),
}
DEFAULT_PANELS = (("msgs_per_s", "msgs/s"), ("p99_ms", "p99 round trip, ms"))


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        print(
            "bench: matplotlib missing, no plot (pip install -r requirements-bench.txt)",
            file=sys.stderr,
        )
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _axes_helpers():
    from matplotlib.ticker import FuncFormatter, LogLocator

    return FuncFormatter, LogLocator


def series(rows: list[dict], key: str) -> dict[str, tuple[list, list]]:
    """Per server (or variant): the connection counts and the values of `key`, in order."""
    lines: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        value = row.get(key)
        if value is None:
            continue
        name = row.get("variant") or row["server"]
        if row.get("ocpp") not in (None, "1.6"):
            name += f" (OCPP {row['ocpp']})"
        lines.setdefault(name, []).append((row["connections"], value))
    return {
        name: ([x for x, _ in sorted(points)], [y for _, y in sorted(points)])
        for name, points in lines.items()
    }


def _draw(rows: list[dict], path: Path, title: str, panels) -> Path | None:
    plt = _pyplot()
    if plt is None or not rows:
        return None
    FuncFormatter, LogLocator = _axes_helpers()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    counts = sorted({row["connections"] for row in rows})
    for ax, (key, axis_title) in zip(axes, panels, strict=True):
        for name, (xs, ys) in series(rows, key).items():
            style = dict(linestyle="--", color="grey") if name == "echo" else {}
            ax.plot(xs, ys, marker="o", label=name, **style)
            for x, y in zip(xs, ys, strict=True):
                ax.annotate(
                    f"{y:,.0f}" if y >= 10 else f"{y:.1f}",
                    (x, y),
                    textcoords="offset points",
                    xytext=(4, 4),
                    fontsize=7,
                )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(counts, [f"{c:,}" for c in counts])
        ax.minorticks_off()
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.10g}"))
        ax.set_xlabel("connections")
        ax.set_ylabel(axis_title)
        ax.grid(True, which="major", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def scenario_plot(scenario: str, rows: list[dict], path: Path) -> Path | None:
    return _draw(rows, path, f"{scenario}: {path.stem}", PANELS.get(scenario, DEFAULT_PANELS))


def latest_plot(heartbeat_rows: list[dict], path: Path) -> Path | None:
    """The README's picture: Heartbeat round trips, echo against the project configurations."""
    return _draw(
        heartbeat_rows,
        path,
        "Heartbeat, one CALL in flight per connection: msgs/s and p99 (echo = bare websockets)",
        DEFAULT_PANELS,
    )

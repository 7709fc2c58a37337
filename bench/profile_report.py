"""Summarise py-spy `--format raw --threads` profiles of the server.

Two recordings of the same window are made by `bench.run profile`:

- `--gil`: only the thread holding the GIL is sampled, i.e. where the
  process's Python CPU goes (self time by library and by function, and
  inclusive time);
- `--idle`: every thread, waiting or not: the wall time of each thread. The
  ORM runs on ONE thread (sync_to_async is thread-sensitive), so that
  thread's busy share and what it spends its time on (round trips to
  PostgreSQL included) tell whether it is the serial bottleneck.

    python -m bench.profile_report gil.txt [--idle idle.txt] [--top 25]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter, defaultdict

# First match wins: (area, prefix of the frame's file as py-spy prints it).
AREAS = [
    ("project: ocpp_consumer", "ocpp_consumer/"),
    ("project: stations/drivers/billing", ("stations/", "drivers/", "billing/")),
    ("project: monitoring (prometheus_client)", ("monitoring/", "prometheus_client/")),
    ("Django ORM / SQL compiler", "django/db/"),
    ("Django (other)", "django/"),
    ("psycopg (PostgreSQL driver)", ("psycopg", "psycopg_binary")),
    ("jsonschema validation", ("jsonschema", "referencing/", "rpds", "attr")),
    ("asgiref (sync_to_async thread hops)", "asgiref/"),
    ("Channels", "channels/"),
    ("channels-redis / redis-py / msgpack", ("channels_redis/", "redis/", "msgpack")),
    ("Daphne", "daphne/"),
    ("Autobahn (WebSocket framing)", ("autobahn/", "txaio/")),
    ("Twisted", "twisted/"),
    ("uvicorn", "uvicorn/"),
    ("websockets", "websockets/"),
    ("kombu / celery", ("kombu/", "celery/")),
    ("json (stdlib)", "json/"),
    ("logging (stdlib)", "logging/"),
    ("threads / futures (stdlib)", ("concurrent/", "threading.py", "queue.py")),
    ("asyncio event loop", ("asyncio/", "selectors.py")),
    ("sqlite3", "sqlite3/"),
    ("datetime / zoneinfo / uuid", ("datetime.py", "zoneinfo/", "_strptime.py", "uuid.py")),
]

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
IDLE_LEAVES = {
    "select",  # selectors: the event loop waiting for sockets
    "_worker",  # concurrent.futures: an executor thread waiting for work
    "wait",  # threading.Condition / Event
    "get",  # queue
    "_wait_for_tstate_lock",
    "sleep",
}


def split(frame: str) -> tuple[str, str]:
    match = _FRAME.match(frame)
    if not match:
        return frame, ""
    return match["func"], match["file"]


def short(frame: str) -> str:
    func, path = split(frame)
    return f"{func} ({path})" if path else func


def area_of(frame: str) -> str:
    _, path = split(frame)
    for area, prefixes in AREAS:
        if path.startswith(prefixes if isinstance(prefixes, tuple) else (prefixes,)):
            return area
    return "other (stdlib and rest)"


def parse(path: str) -> list[tuple[str, list[str], int]]:
    samples = []
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            try:
                n = int(count)
            except ValueError:
                continue
            frames = stack.split(";")
            thread = ""
            if frames and frames[0].startswith("thread ("):
                thread = frames.pop(0)
            if frames and frames[0].startswith("process "):
                frames.pop(0)
            samples.append((_thread_name(thread), frames, n))
    return samples


def _thread_name(thread: str) -> str:
    # "thread (12345): MainThread" -> "MainThread"; executor threads keep their prefix.
    name = thread.split(": ", 1)[1] if ": " in thread else thread
    if name == "MainThread":
        return "event loop (MainThread)"
    if name.startswith("ThreadPoolExecutor-0"):
        return "ORM thread (the one sync_to_async thread)"
    return re.sub(r"_\d+$", "_*", name) or "unknown"


def is_idle(frames: list[str]) -> bool:
    if not frames:
        return True
    func, path = split(frames[-1])
    name = func.rsplit(".", 1)[-1]
    return name in IDLE_LEAVES and (
        path.startswith(("selectors.py", "concurrent/", "threading.py", "queue.py", "time"))
        or name == "select"
    )


def summarise_gil(path: str, top: int = 25) -> dict:
    samples = parse(path)
    total = sum(n for _, frames, n in samples if frames) or 1
    by_self, by_incl, by_area, by_thread = Counter(), Counter(), Counter(), Counter()
    for thread, frames, n in samples:
        if not frames:
            continue
        by_self[short(frames[-1])] += n
        by_area[area_of(frames[-1])] += n
        by_thread[thread] += n
        for frame in {short(f) for f in frames}:
            by_incl[frame] += n
    pct = lambda n: round(100.0 * n / total, 1)  # noqa: E731
    return {
        "samples": total,
        "threads": [(k, pct(v)) for k, v in by_thread.most_common()],
        "areas": [(k, pct(v)) for k, v in by_area.most_common()],
        "self": [(k, pct(v)) for k, v in by_self.most_common(top)],
        "inclusive": [(k, pct(v)) for k, v in by_incl.most_common(top * 2)],
    }


def summarise_idle(path: str, top: int = 15) -> dict:
    """Wall time per thread: busy share, and where the busy time goes."""
    per_thread: dict[str, Counter] = defaultdict(Counter)
    totals: Counter = Counter()
    idle: Counter = Counter()
    for thread, frames, n in parse(path):
        totals[thread] += n
        if is_idle(frames):
            idle[thread] += n
            continue
        for frame in {short(f) for f in frames}:
            per_thread[thread][frame] += n
    threads = {}
    for thread, total in totals.most_common():
        busy = total - idle[thread]
        threads[thread] = {
            "samples": total,
            "busy_pct": round(100.0 * busy / total, 1),
            "busy_in": [
                (k, round(100.0 * v / total, 1)) for k, v in per_thread[thread].most_common(top)
            ],
        }
    return threads


def markdown(gil: dict, idle: dict | None = None) -> str:
    lines = [
        f"CPU profile (`py-spy --gil`: the thread holding the GIL), {gil['samples']} samples.",
        "",
        "| area (self time) | % of CPU samples |",
        "| --- | --- |",
    ]
    lines += [f"| {k} | {v} |" for k, v in gil["areas"]]
    lines += ["", "| thread | % of CPU samples |", "| --- | --- |"]
    lines += [f"| {k} | {v} |" for k, v in gil["threads"]]
    lines += ["", "| function (self time) | % |", "| --- | --- |"]
    lines += [f"| `{k}` | {v} |" for k, v in gil["self"]]
    lines += ["", "| function (inclusive time) | % |", "| --- | --- |"]
    lines += [f"| `{k}` | {v} |" for k, v in gil["inclusive"]]
    if idle:
        lines += [
            "",
            "Wall-time profile (`py-spy --idle`: every thread, waiting included). "
            "Busy = not waiting for work (waiting for PostgreSQL counts as busy).",
            "",
        ]
        for thread, info in idle.items():
            if info["samples"] < 20:
                continue
            lines += [
                f"**{thread}**: busy {info['busy_pct']}% of the window ({info['samples']} samples)",
                "",
                "| busy in (inclusive) | % of wall time |",
                "| --- | --- |",
            ]
            lines += [f"| `{k}` | {v} |" for k, v in info["busy_in"]]
            lines.append("")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("gil", help="py-spy raw output recorded with --gil --threads")
    parser.add_argument("--idle", help="py-spy raw output recorded with --idle --threads")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    idle = summarise_idle(args.idle) if args.idle else None
    print(markdown(summarise_gil(args.gil, args.top), idle))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What a result must say about where it was measured, and CPU accounting.

CPU is read from /proc: the server process (all its threads; with a launcher,
every process of its tree), this process
(the load generator), PostgreSQL + Redis (every process of those names), the
whole machine, and what is left: other work on the machine that competed with
the benchmark (other people's test runs, say). Percentages are of one core.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from datetime import UTC, datetime
from importlib import metadata

CLK_TCK = os.sysconf("SC_CLK_TCK")
DB_PROCESS_NAMES = ("postgres", "redis-server")


def _cpu_model() -> str:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total_gib() -> float:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0.0


def _command_output(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def machine_info() -> dict:
    redis_info = _command_output(["redis-cli", "-h", "127.0.0.1", "INFO", "server"])
    redis_version = next(
        (
            line.split(":", 1)[1]
            for line in redis_info.splitlines()
            if line.startswith("redis_version")
        ),
        "-",
    )
    pg_version = _command_output(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-At", "-c", "show server_version"]
    )
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "ram_gib": _mem_total_gib(),
        "kernel": platform.release(),
        "loadavg_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "versions": {
            name: _version(name)
            for name in (
                "Django",
                "channels",
                "daphne",
                "channels-redis",
                "Twisted",
                "autobahn",
                "websockets",
                "psycopg",
                "redis",
                "uvicorn",
            )
        },
        "postgresql": pg_version.split()[0] if pg_version else "-",
        "redis_server": redis_version,
    }


def _proc_cpu_seconds(pid: int | str) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # fields[0] is state (3rd field); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _db_cpu_seconds() -> float:
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                name = f.read().strip()
        except OSError:
            continue
        if name in DB_PROCESS_NAMES:
            total += _proc_cpu_seconds(entry)
    return total


def _cpu_pressure_seconds() -> float:
    """Time some runnable task waited for a CPU (Linux PSI), in seconds."""
    try:
        with open("/proc/pressure/cpu") as f:
            for line in f:
                if line.startswith("some"):
                    return int(line.rsplit("total=", 1)[1]) / 1e6
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def _machine_busy_seconds() -> float:
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in parts[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def process_tree(pid: int) -> list[int]:
    """pid and its descendants (a launcher and its Daphne processes), from /proc."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/children") as f:
                    todo.extend(int(child) for child in f.read().split())
            except OSError:
                continue
    return found


class CpuMeter:
    """CPU used between start() and stop(), as % of one core.

    `server_pids`: the server's pids, or a function returning them (read at
    each sample, so that every process of a launcher's tree is counted).
    """

    def __init__(self, server_pids):
        self.server_pids = server_pids
        self.begin = None
        self.result: dict = {}

    def _server_seconds(self) -> dict[int, float]:
        pids = self.server_pids() if callable(self.server_pids) else self.server_pids
        return {pid: _proc_cpu_seconds(pid) for pid in pids}

    def _sample(self) -> tuple:
        return (
            time.perf_counter(),
            self._server_seconds(),
            _proc_cpu_seconds("self"),
            _db_cpu_seconds(),
            _machine_busy_seconds(),
            _cpu_pressure_seconds(),
        )

    def start(self) -> None:
        self.begin = self._sample()

    def stop(self) -> dict:
        end = self._sample()
        wall = end[0] - self.begin[0]
        # A process started in between counts from zero; one gone in between is lost.
        server = sum(seconds - self.begin[1].get(pid, 0.0) for pid, seconds in end[1].items())
        own, db, busy, waiting = (end[i] - self.begin[i] for i in range(2, 6))
        pct = lambda seconds: round(100 * seconds / wall, 1)  # noqa: E731
        self.result = {
            "wall_s": round(wall, 2),
            "server_processes": len(end[1]),
            "server_cpu_s": round(server, 3),
            "server_cpu_pct": pct(server),
            "loadgen_cpu_pct": pct(own),
            "db_cpu_pct": pct(db),
            "machine_busy_pct": pct(busy),
            "other_cpu_pct": pct(max(0.0, busy - server - own - db)),
            "cpu_pressure_pct": pct(waiting),
        }
        return self.result


def rss_kib(pid: int) -> int:
    """VmRSS of one process (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kib(pid: int) -> int:
    """VmRSS summed over pid and its descendants (shared pages count once per process)."""
    return sum(rss_kib(p) for p in process_tree(pid))

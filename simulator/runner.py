"""Run a fleet of simulated charge points on one event loop, then report.

Charge points start at --ramp per second (a fleet never connects in the same
millisecond, and a load test should not measure its own thundering herd).
The run ends after --duration or at the first SIGINT/SIGTERM; then running
sessions are stopped (StopTransaction, reason Local) for up to
--stop-timeout seconds so the CSMS is left without open transactions, and a
second signal skips that wait. The report is built either way.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
import sys
from collections import deque
from typing import TextIO

from ocpp.v16.enums import Action

from .charge_point import SimulatedChargePoint
from .config import SimulationConfig
from .dialects import dialect_for
from .report import build_report
from .state import IdTagPool
from .stats import Stats

try:
    import resource
except ImportError:  # not on this platform (Windows): the open-file limit stays as it is
    resource = None

logger = logging.getLogger(__name__)

# File descriptors the process needs besides one per socket.
SPARE_FILES = 64


class HeartbeatPacer:
    """Hand out heartbeat turns so that all CALLs together go at `rate` per second (--rate).

    Every other CALL (boots, sessions) counts against the rate; heartbeats
    fill the rest. Turns go to charge points waiting for one, oldest first,
    so the load spreads over the fleet. When not enough charge points are
    idle to keep up, at most one second of backlog is kept (no catch-up storm).
    """

    TICK = 0.01

    def __init__(self, rate: float, stats: Stats) -> None:
        self.rate = rate
        self._stats = stats
        self._waiters: deque[asyncio.Future] = deque()

    async def turn(self) -> None:
        future = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        await future

    def _other_calls(self) -> int:
        heartbeats = self._stats.actions.get(Action.heartbeat)
        return self._stats.sent_total - (heartbeats.sent if heartbeats else 0)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        start, granted, others_before = loop.time(), 0, self._other_calls()
        while True:
            await asyncio.sleep(self.TICK)
            counted = granted + self._other_calls() - others_before
            due = self.rate * (loop.time() - start) - counted
            if due > self.rate:
                start = loop.time() - (counted + self.rate) / self.rate
                due = self.rate
            while due >= 1 and self._waiters:
                future = self._waiters.popleft()
                if not future.done():
                    future.set_result(None)
                    granted += 1
                    due -= 1


class Simulation:
    """One run: `await Simulation(config).run()` returns the report (a dict)."""

    def __init__(self, config: SimulationConfig, *, progress: TextIO | None = None) -> None:
        self.config = config.validate()
        self.progress = progress
        self.stats = Stats(config.charge_points)
        self.charge_points: list[SimulatedChargePoint] = []
        self.ended_by: str | None = None
        self.notes: list[str] = []
        # (elapsed, CALLs finished) at the last progress line.
        self._last = (0.0, 0)
        self._stop = asyncio.Event()
        self._abort = asyncio.Event()

    def request_stop(self, reason: str = "stopped") -> None:
        """End the run (from any task on the loop); a second call skips the session wait."""
        if self._stop.is_set():
            self._abort.set()
            return
        self.ended_by = reason
        self._stop.set()

    async def run(self, *, handle_signals: bool = False) -> dict:
        config = self.config
        self._raise_open_file_limit(config.charge_points + SPARE_FILES)
        pacer = HeartbeatPacer(config.rate, self.stats) if config.rate else None
        id_tags = IdTagPool(config.all_id_tags())
        counts = config.version_counts()
        self.charge_points = [
            SimulatedChargePoint(
                index=index,
                config=config,
                stats=self.stats.for_version(version, counts[version]),
                rng=random.Random(None if config.seed is None else f"{config.seed}:{index}"),
                pacer=pacer,
                id_tags=id_tags,
                dialect=dialect_for(version),
            )
            for index, version in enumerate(map(config.version_for, range(config.charge_points)))
        ]
        signals = self._install_signal_handlers() if handle_signals else []
        running: list[asyncio.Task] = []
        helpers = [asyncio.create_task(self._ramp(running))]
        if pacer is not None:
            helpers.append(asyncio.create_task(pacer.run()))
        if self.progress is not None:
            helpers.append(asyncio.create_task(self._show_progress()))
        try:
            try:
                await asyncio.wait_for(self._stop.wait(), config.duration or None)
            except TimeoutError:
                self.ended_by = "duration"
            helpers[0].cancel()  # no more charge points start
            self.stats.mark_end()
            await self._stop_sessions()
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            for sig in signals:
                asyncio.get_running_loop().remove_signal_handler(sig)
        if self.progress is not None:
            self._write_progress(final=True)
        return build_report(
            config=config, stats=self.stats, ended_by=self.ended_by or "stopped", notes=self.notes
        )

    async def _ramp(self, running: list[asyncio.Task]) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for index, charge_point in enumerate(self.charge_points):
            delay = start + index / self.config.ramp - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            running.append(asyncio.create_task(charge_point.run()))

    async def _stop_sessions(self) -> None:
        for charge_point in self.charge_points:
            charge_point.begin_shutdown(charge_point.dialect.local_stop)
        pending = [
            task for cp in self.charge_points for task in cp.session_tasks if not task.done()
        ]
        if not pending or not self.config.stop_timeout or self._abort.is_set():
            return
        sessions_done = asyncio.ensure_future(asyncio.wait(pending))
        aborted = asyncio.ensure_future(self._abort.wait())
        await asyncio.wait(
            {sessions_done, aborted},
            timeout=self.config.stop_timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        sessions_done.cancel()
        aborted.cancel()
        left = sum(not task.done() for task in pending)
        if left:
            self.notes.append(f"{left} session(s) still open when the run ended")

    def _install_signal_handlers(self) -> list[int]:
        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.request_stop, "interrupted")
            except (NotImplementedError, RuntimeError, ValueError):
                continue  # not the main thread, or no signals here: Ctrl-C raises instead
            installed.append(sig)
        return installed

    def _raise_open_file_limit(self, wanted: int) -> None:
        if resource is None:
            return
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY or soft >= wanted:
            return
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        if target > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < wanted:
            self.notes.append(
                f"open file limit {target} is below the {wanted} needed: raise `ulimit -n`"
            )

    async def _show_progress(self) -> None:
        while True:
            await asyncio.sleep(1)
            self._write_progress()

    def _write_progress(self, *, final: bool = False) -> None:
        stats, stream = self.stats, self.progress
        now, finished = stats.elapsed(), stats.finished_total
        last_time, last_finished = self._last
        rate = (finished - last_finished) / max(now - last_time, 1e-9)
        self._last = (now, finished)
        line = (
            f"{now:7.1f}s  connected {stats.connected}/{stats.target}  {rate:8.1f} msgs/s  "
            f"answered {stats.answered_total}  errors {stats.errors}"
        )
        tty = getattr(stream, "isatty", lambda: False)()
        if tty:
            stream.write("\r" + line.ljust(79) + ("\n" if final else ""))
        elif not final:
            stream.write(line + "\n")
        stream.flush()


def run_simulation(config: SimulationConfig, *, progress: TextIO | None = sys.stderr) -> dict:
    """Run a simulation to its end on a new event loop (Ctrl-C ends it cleanly)."""
    simulation = Simulation(config, progress=progress)
    return asyncio.run(simulation.run(handle_signals=True))

"""Scheduling of the benchmark's own processes on a machine shared with other work.

Linux 6.6+ schedules ordinary tasks with EEVDF: a task woken by a packet
waits until the task running on its core has used its slice (about 3 ms),
whatever the nice values. A request/response benchmark wakes the server and
the load generator once per round trip, so a CPU-bound neighbour (someone's
test suite) adds milliseconds to every round trip and halves the throughput
without using the benchmark's CPU. Since Linux 6.12 a task may ask for a
shorter slice (sched_setattr, sched_runtime), which also lets it preempt on
wake-up. BENCH_SLICE_US (e.g. 100) applies that to the server and the load
generator; BENCH_NICE raises their weight. Both only change how the
benchmark's own processes compete for a core, nothing in the code measured.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct

_SYS_SCHED_SETATTR = {"x86_64": 314, "aarch64": 274}.get(platform.machine())
SLICE_US = int(os.environ.get("BENCH_SLICE_US", "0"))
NICE = int(os.environ.get("BENCH_NICE", "0"))


def set_slice(slice_us: int, pid: int = 0) -> bool:
    """Ask for an EEVDF slice of slice_us (SCHED_OTHER, nice kept); False if impossible."""
    if not slice_us or _SYS_SCHED_SETATTR is None:
        return False
    nice = os.getpriority(os.PRIO_PROCESS, pid)
    # struct sched_attr (VER0, 48 bytes): size, policy, flags, nice, priority,
    # runtime, deadline, period.
    attr = ctypes.create_string_buffer(
        struct.pack("=IIQiIQQQ", 48, 0, 0, nice, 0, slice_us * 1000, 0, 0)
    )
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(_SYS_SCHED_SETATTR, pid, attr, 0) == 0


def apply_to_self() -> dict:
    """Priority and slice for this process (and what it starts)."""
    if NICE:
        os.nice(NICE)
    return {
        "nice": os.getpriority(os.PRIO_PROCESS, 0),
        "slice_us": SLICE_US if set_slice(SLICE_US) else None,
    }

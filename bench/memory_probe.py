"""What holds the server's memory per idle charge point (issue 22).

Starts one Daphne with the project's application (the `pg` or `sqlite`
configuration of bench/servers.py), connects N charge points that boot and
stay silent, and compares the server before and after:

- RSS (VmRSS) and the Python heap that tracemalloc traces, per connection;
- traced bytes per connection by *owner*: the innermost frame of each
  allocation's traceback that belongs to a library or to the project
  (Twisted/autobahn/Daphne, asgiref/Channels, channels-redis/redis-py,
  Django, the project's own modules), so that an asyncio Task made by
  Daphne counts for Daphne and a dict made in our consumer for us;
- traced bytes per connection by the file and the line that allocated them;
- live objects per connection by type (`gc.get_objects()`).

    .venv/bin/python -m bench.memory_probe --connections 3000
    .venv/bin/python -m bench.memory_probe --connections 3000 --config sqlite
    .venv/bin/python -m bench.memory_probe --connections 3000 --no-trace   # RSS without tracemalloc
    .venv/bin/python -m bench.memory_probe --connections 3000 --env PYTHONMALLOC=malloc
    .venv/bin/python -m bench.memory_probe --connections 3000 --json /tmp/probe.json

tracemalloc costs memory of its own (its traces are not in the traced
figures but are in RSS), so RSS per connection is measured best with
`--no-trace`; the traced breakdown says where the Python heap goes.
The server process is `python -m bench.memory_probe serve -- <daphne args>`:
Daphne's command line with a SIGUSR1 handler that writes a snapshot.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import pickle
import random
import signal
import sys
import sysconfig
import time
import tracemalloc
from collections import Counter
from pathlib import Path

from . import loadgen
from .servers import (
    LOADGEN_CORE,
    PROJECT,
    PYTHON,
    WORK_DIR,
    Server,
    ServerSpec,
    prepare_database,
)

TRACE_FRAMES = int(os.environ.get("BENCH_PROBE_FRAMES", "10"))
SNAPSHOT_DIR_ENV = "BENCH_PROBE_DIR"
TRACE_ENV = "BENCH_PROBE_TRACE"
HELD_BY_ENV = "BENCH_PROBE_HELD_BY"
HELD_BY_SAMPLE = 400

# Owners, tested in this order against an allocation's file path.
_SITE = sysconfig.get_paths()["purelib"]
_STDLIB = sysconfig.get_paths()["stdlib"]
OWNERS = (
    ("channels-redis", f"{_SITE}/channels_redis/"),
    ("redis-py", f"{_SITE}/redis/"),
    ("channels", f"{_SITE}/channels/"),
    ("asgiref", f"{_SITE}/asgiref/"),
    ("daphne", f"{_SITE}/daphne/"),
    ("autobahn", f"{_SITE}/autobahn/"),
    ("txaio", f"{_SITE}/txaio/"),
    ("twisted", f"{_SITE}/twisted/"),
    ("django", f"{_SITE}/django/"),
    ("other library", _SITE),
    ("project", str(PROJECT) + "/"),
)


def owner_of(filename: str) -> str | None:
    """The owner of a frame's file; None for the standard library (asyncio, json...)."""
    for name, prefix in OWNERS:
        if filename.startswith(prefix):
            return name
    if filename.startswith(_STDLIB) or filename.startswith("<"):
        return None
    return "other"


def project_module(filename: str) -> str:
    return str(Path(filename).relative_to(PROJECT))


# --- in the server process ------------------------------------------------------


def _write_snapshot(directory: Path) -> None:
    tag = (directory / "request").read_text().strip()
    gc.collect()
    objects = gc.get_objects()
    types = Counter(type(o).__qualname__ for o in objects)
    data = {"types": dict(types), "rss_kib": _own_rss_kib(), "held_by": {}}
    # Who holds the objects of the types asked for: a sample's referrers by type.
    for name in filter(None, os.environ.get(HELD_BY_ENV, "").split(",")):
        matching = [o for o in objects if type(o).__qualname__ == name]
        sample = random.sample(matching, min(HELD_BY_SAMPLE, len(matching)))
        holders = Counter()
        for obj in sample:
            for referrer in gc.get_referrers(obj):
                if not any(referrer is mine for mine in (sample, objects, matching)):
                    holders[_describe_holder(referrer, obj)] += 1
        data["held_by"][name] = {
            "sampled": len(sample),
            "holders": dict(holders.most_common(15)),
        }
    del objects
    if tracemalloc.is_tracing():
        snapshot = tracemalloc.take_snapshot()
        with open(directory / f"{tag}.snap", "wb") as f:
            pickle.dump(snapshot, f, protocol=pickle.HIGHEST_PROTOCOL)
        data["traced"] = tracemalloc.get_traced_memory()[0]
        data["tracemalloc_overhead"] = tracemalloc.get_tracemalloc_memory()
    (directory / f"{tag}.json").write_text(json.dumps(data))
    (directory / f"{tag}.done").write_text("")


def _describe_holder(referrer, obj) -> str:
    """The referrer's type; for an attribute, the owner's type and the attribute's name."""
    kind = type(referrer).__qualname__
    if isinstance(referrer, dict):
        key = next((k for k, v in referrer.items() if v is obj), None)
        for owner in gc.get_referrers(referrer):
            if getattr(owner, "__dict__", None) is referrer:
                return f"{type(owner).__qualname__}.{key}"
        return f"dict[{key!r}]" if isinstance(key, str) else kind
    if hasattr(referrer, "__dict__") and not isinstance(referrer, type):
        for key, value in vars(referrer).items():
            if value is obj:
                return f"{kind}.{key}"
    return kind


def _own_rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def serve(daphne_args: list[str]) -> None:
    """Daphne's command line, with a snapshot written on SIGUSR1."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csms_project.settings")
    import daphne.cli  # installs Twisted's asyncio reactor before anything else

    import csms_project.asgi  # noqa: F401  (loaded before tracing: start-up stays fast)

    if os.environ.get(TRACE_ENV) == "1":
        tracemalloc.start(TRACE_FRAMES)

    directory = Path(os.environ[SNAPSHOT_DIR_ENV])
    signal.signal(signal.SIGUSR1, lambda *_: _write_snapshot(directory))
    sys.argv = ["daphne", *daphne_args]
    daphne.cli.CommandLineInterface.entrypoint()


# --- in the probe ---------------------------------------------------------------


class ProbeSpec(ServerSpec):
    """A one-process Daphne started through `bench.memory_probe serve`."""

    def command(self, port: int) -> list[str]:
        extra = os.environ.get("BENCH_DAPHNE_ARGS", "").split()
        return [
            PYTHON,
            "-m",
            "bench.memory_probe",
            "serve",
            "--",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            *extra,
            "csms_project.asgi:application",
        ]


def snapshot(server: Server, directory: Path, tag: str, timeout: float = 300.0) -> dict:
    (directory / "request").write_text(tag)
    os.kill(server.pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while not (directory / f"{tag}.done").exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"no snapshot {tag} from the server in {timeout} s")
        time.sleep(0.2)
    data = json.loads((directory / f"{tag}.json").read_text())
    snap = directory / f"{tag}.snap"
    if snap.exists():
        with open(snap, "rb") as f:
            data["snapshot"] = pickle.load(f)
    return data


def _owner_of_traceback(traceback) -> tuple[str, str]:
    """(owner, where): the innermost non-stdlib frame of an allocation."""
    frames = list(traceback)  # oldest first
    for frame in reversed(frames):
        owner = owner_of(frame.filename)
        if owner is not None:
            where = (
                project_module(frame.filename)
                if owner == "project"
                else frame.filename.replace(_SITE + "/", "")
            )
            return owner, f"{where}:{frame.lineno}"
    frame = frames[-1]
    return "stdlib only", f"{frame.filename.replace(_STDLIB + '/', '')}:{frame.lineno}"


def traced_breakdown(before, after) -> tuple[dict, dict, dict]:
    """Bytes allocated since `before` and still alive, by owner, owner line and file."""
    old = Counter()
    for trace in before.traces:
        old[trace.traceback] += trace.size
    by_owner, by_line, by_file = Counter(), Counter(), Counter()
    seen = Counter()
    for trace in after.traces:
        seen[trace.traceback] += trace.size
    for traceback, size in seen.items():
        grown = size - old.get(traceback, 0)
        if grown == 0:
            continue
        owner, where = _owner_of_traceback(traceback)
        by_owner[owner] += grown
        by_line[f"{owner}  {where}"] += grown
        innermost = traceback[-1].filename
        innermost = innermost.replace(_SITE + "/", "").replace(_STDLIB + "/", "")
        by_file[innermost.replace(str(PROJECT) + "/", "")] += grown
    return by_owner, by_line, by_file


def _kib(value: float, n: int) -> float:
    return round(value / 1024 / n, 2)


async def _connect_and_measure(server, directory, args, result) -> None:
    async def hook(event: str, info: dict) -> None:
        if event != "connected":
            return
        result["connected"] = info["connected"]["connected"]
        await asyncio.sleep(args.settle)
        result["after"] = await asyncio.to_thread(snapshot, server, directory, "after")

    opts = loadgen.Options(
        url=server.url,
        connections=args.connections,
        id_prefix="PROBE-",
        connect_concurrency=args.connect_concurrency,
    )
    await loadgen.run_idle(opts, 0.5, hook, quiet=True)


def probe(args) -> dict:
    os.sched_setaffinity(0, {LOADGEN_CORE})
    env = dict(args.env)
    env[TRACE_ENV] = "0" if args.no_trace else "1"
    directory = Path(WORK_DIR) / f"probe-{os.getpid()}"
    directory.mkdir(parents=True, exist_ok=True)
    env[SNAPSHOT_DIR_ENV] = str(directory)
    env[HELD_BY_ENV] = ",".join(args.held_by)
    spec = ProbeSpec(args.config, env=env, label=f"probe-{args.config}")
    prepare_database(spec.config, spec.environment(), tags=0)
    result: dict = {"config": args.config, "connections": args.connections, "env": args.env}
    with Server(spec, log_name="memprobe") as server:
        warm = loadgen.Options(url=server.url, connections=10, id_prefix="WARM-")
        asyncio.run(loadgen.run_traffic("heartbeat", warm, 2.0, 0.5, quiet=True))
        time.sleep(1.0)
        result["before"] = snapshot(server, directory, "before")
        asyncio.run(_connect_and_measure(server, directory, args, result))
    return summarise(result)


def summarise(result: dict) -> dict:
    n = result.get("connected") or 1
    before, after = result["before"], result["after"]
    summary = {
        "config": result["config"],
        "env": result["env"],
        "connected": result.get("connected"),
        "rss_kib_per_connection": round((after["rss_kib"] - before["rss_kib"]) / n, 2),
    }
    types = Counter(after["types"])
    types.subtract(before["types"])
    summary["objects_per_connection"] = {
        name: round(count / n, 2) for name, count in types.most_common(25) if count > 0
    }
    summary["objects_per_connection_total"] = round(sum(types.values()) / n, 1)
    summary["held_by"] = after.get("held_by", {})
    if "snapshot" in after:
        by_owner, by_line, by_file = traced_breakdown(before["snapshot"], after["snapshot"])
        summary["traced_kib_per_connection"] = _kib(after["traced"] - before["traced"], n)
        summary["traced_by_owner"] = {k: _kib(v, n) for k, v in by_owner.most_common()}
        summary["traced_by_line"] = {k: _kib(v, n) for k, v in by_line.most_common(40)}
        summary["traced_by_file"] = {k: _kib(v, n) for k, v in by_file.most_common(25)}
    return summary


def print_summary(summary: dict) -> None:
    print(f"config {summary['config']}  env {summary['env'] or '-'}")
    print(f"connected {summary['connected']}")
    print(f"RSS per connection: {summary['rss_kib_per_connection']} KiB")
    if "traced_kib_per_connection" in summary:
        print(f"traced Python heap per connection: {summary['traced_kib_per_connection']} KiB")
        for title, key in (
            ("by owner (innermost library or project frame)", "traced_by_owner"),
            ("by owner and line", "traced_by_line"),
            ("by file of the allocating frame", "traced_by_file"),
        ):
            print(f"\n{title}, KiB per connection:")
            for name, kib in summary[key].items():
                if abs(kib) >= 0.01:
                    print(f"  {kib:8.2f}  {name}")
    print(
        f"\nlive objects per connection by type (all: {summary['objects_per_connection_total']}):"
    )
    for name, count in summary["objects_per_connection"].items():
        print(f"  {count:8.2f}  {name}")
    for name, held in summary["held_by"].items():
        print(f"\nheld by (referrers of {held['sampled']} {name} objects, at random):")
        for holder, count in held["holders"].items():
            print(f"  {count:6d}  {holder}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        rest = argv[1:]
        serve(rest[1:] if rest[:1] == ["--"] else rest)
        return 0
    parser = argparse.ArgumentParser(
        prog="python -m bench.memory_probe", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--connections", type=int, default=3000)
    parser.add_argument("--config", choices=("pg", "sqlite"), default="pg")
    parser.add_argument("--no-trace", action="store_true", help="RSS and objects only")
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--connect-concurrency", type=int, default=100)
    parser.add_argument(
        "--env", action="append", default=[], help="KEY=VALUE for the server (repeatable)"
    )
    parser.add_argument(
        "--held-by",
        default="list,dict,tuple",
        type=lambda value: [v for v in value.split(",") if v],
        help=f"types whose holders to sample ({HELD_BY_SAMPLE} objects of each, at random)",
    )
    parser.add_argument("--json", help="also write the summary here")
    args = parser.parse_args(argv)
    args.env = dict(item.split("=", 1) for item in args.env)
    summary = probe(args)
    print_summary(summary)
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

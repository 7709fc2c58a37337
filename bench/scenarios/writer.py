"""writer: CPU and queries per durable message on the writer threads, without the network.

    .venv/bin/python -m bench.scenarios.writer
    .venv/bin/python -m bench.scenarios.writer --baseline HEAD~3   # and an earlier commit

The durable benchmark (`bench.run durable`) measures messages per second
through Daphne, which a busy machine disturbs a lot. This one measures what
a change to the durable path saves: `bench/writer_probe.py` runs the group
commit's batches of StartTransaction, MeterValues and StopTransaction for
100 charge points in a process of its own (pinned to BENCH_SERVER_CORES) and
counts that process's CPU time and its queries per message. CPU time hardly
depends on what else runs on the machine; queries not at all. With
`--baseline REF` the same probe runs on that commit's tree (`git archive`)
too, each run alternating with the working tree's, and both are reported.
Each tree gets its own database (BENCH_WRITER_DATABASE, default
csms_bench_writer, suffixed), migrated before the runs. Results:
bench/results/<date>-writer[-label].md and .json. Nothing passes or fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from ..report import RESULTS_DIR, machine_block
from ..servers import PROJECT, PYTHON, SERVER_CORES, WORK_DIR, server_env
from ..sysinfo import machine_info
from .console import psql

DATABASE = os.environ.get("BENCH_WRITER_DATABASE", "csms_bench_writer")
ACTIONS = ("StartTransaction", "MeterValues", "StopTransaction")
COMMAND = ".venv/bin/python -m bench.scenarios.writer"


def _log(text: str) -> None:
    print(f"[writer] {text}", file=sys.stderr, flush=True)


def _tree_of(ref: str) -> Path:
    """The committed tree of `ref`, unpacked once under BENCH_WORK_DIR."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", ref],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    tree = WORK_DIR / f"writer-tree-{commit}"
    if not (tree / "manage.py").exists():
        if tree.exists():
            shutil.rmtree(tree)
        tree.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "archive", commit], cwd=PROJECT, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        (tree / ".venv").symlink_to(PROJECT / ".venv")
    return tree


def _env(database: str) -> dict[str, str]:
    # The benchmark servers' environment (production settings), on this
    # tree's own database, with no Redis: nothing here leaves the process.
    env = server_env("pg", {"DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}"})
    for name in ("REDIS_URL", "CHANNEL_LAYER_PREFIX"):
        env.pop(name, None)
    env.update(CELERY_BROKER_URL="memory://", DJANGO_SETTINGS_MODULE="csms_project.settings")
    return env


def prepare(tree: Path, database: str) -> None:
    if psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}'") != "1":
        psql(f"CREATE DATABASE {database}")
    _log(f"migrate {database} ({tree})")
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=tree,
        env=_env(database),
        check=True,
    )


def probe(tree: Path, database: str, args) -> dict:
    probe_script = PROJECT / "bench" / "writer_probe.py"  # the same probe for every tree
    command = ["taskset", "-c", SERVER_CORES, PYTHON, str(probe_script)]
    command += [f"--charge-points={args.charge_points}", f"--cycles={args.cycles}"]
    command += [f"--meter-values={args.meter_values}"]
    env = _env(database)
    env["PYTHONPATH"] = str(tree)
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the probe failed in {tree}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def median_of(runs: list[dict]) -> dict:
    result = {"cpu_us_per_message": statistics.median(r["cpu_us_per_message"] for r in runs)}
    result["queries_per_message"] = runs[0]["queries_per_message"]
    for action in ACTIONS:
        result[action] = {
            "cpu_us_per_message": statistics.median(
                r["actions"][action]["cpu_us_per_message"] for r in runs
            ),
            "queries_per_message": runs[0]["actions"][action]["queries_per_message"],
        }
    result["runs_cpu_us_per_message"] = [r["cpu_us_per_message"] for r in runs]
    return result


def report(args, rows: dict[str, dict], machine: dict) -> Path:
    stem = f"{datetime.now(UTC):%Y-%m-%d}-writer" + (f"-{args.label}" if args.label else "")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    lines = [
        "# writer: CPU and queries per durable message on the writer (group commit batches)",
        "",
        machine_block(machine),
        f"- Command: `{' '.join([COMMAND, *sys.argv[1:]])}`",
        f"- Load: {args.charge_points} charge points, {args.cycles} cycles of one batch of starts, "
        f"{args.meter_values} batches of MeterValues (3 values) and one batch of stops, "
        f"after a warm-up cycle; median of {args.repeat} runs; the probe pinned to core "
        f"{SERVER_CORES}",
        "",
        "| tree | all: CPU us/msg | queries/msg | Start us | Start queries | MeterValues us "
        "| MeterValues queries | Stop us | Stop queries | runs (us/msg) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, row in rows.items():
        cells = [name, f"{row['cpu_us_per_message']:,.0f}", f"{row['queries_per_message']:g}"]
        for action in ACTIONS:
            cells += [
                f"{row[action]['cpu_us_per_message']:,.0f}",
                f"{row[action]['queries_per_message']:g}",
            ]
        cells.append(", ".join(f"{value:,.0f}" for value in row["runs_cpu_us_per_message"]))
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "CPU is the probe process's own time (building, compiling and sending the queries, "
        "model instances, the commit hooks), not PostgreSQL's; queries include BEGIN and COMMIT "
        "shared by the batch. A message's server cost in the durable benchmark adds Daphne, "
        "Channels, framing, schema validation and the journal on the event loop.",
    ]
    path = RESULTS_DIR / f"{stem}.md"
    path.write_text("\n".join(lines) + "\n")
    (RESULTS_DIR / f"{stem}.json").write_text(
        json.dumps({"machine": machine, "args": vars(args), "rows": rows}, indent=2, default=str)
    )
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scenarios.writer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--charge-points", type=int, default=100)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--meter-values", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", help="a git ref to measure next to the working tree")
    parser.add_argument("--label", default="")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    machine = machine_info()
    trees = {"working tree": (PROJECT, DATABASE)}
    if args.baseline:
        trees[f"baseline {args.baseline}"] = (_tree_of(args.baseline), f"{DATABASE}_baseline")
    for tree, database in trees.values():
        prepare(tree, database)
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    for attempt in range(args.repeat):
        for name, (tree, database) in trees.items():  # alternating: same conditions for both
            runs[name].append(probe(tree, database, args))
            _log(f"{name} run {attempt + 1}: {runs[name][-1]['cpu_us_per_message']} us/msg")
    path = report(args, {name: median_of(found) for name, found in runs.items()}, machine)
    _log(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

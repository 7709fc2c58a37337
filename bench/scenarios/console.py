"""console: server time of every console page on a generated network (issue 20 item 5).

    .venv/bin/python -m bench.scenarios.console --generate \\
        --charge-points 10000 --sessions 1000000 --journal-rows 100000000   # build, then measure
    .venv/bin/python -m bench.scenarios.console                            # measure again
    .venv/bin/python -m bench.scenarios.console --drop                     # and drop the database

The data set is `manage.py generate_network` in its own PostgreSQL database
(BENCH_CONSOLE_DATABASE, default csms_console_bench), kept between runs
because building it takes minutes. The project runs from a copy of the
working tree (BENCH_WORK_DIR/console-tree: other work may edit the tree
meanwhile, and production settings need `collectstatic`, done in the copy),
on Daphne as in production (DJANGO_DEBUG=0), pinned to core 0; this
process, the client, on core 1. It signs in as a generated operator (staff, every console
permission, not a superuser), requests each page once to warm up, then
`--repeat` times: the time from sending the request to the last byte of the
answer on the loopback, i.e. the server's time. Results: p50 / p95 / max per
page in bench/results/<date>-console[-label].md and .json, with the data set's
sizes. Nothing passes or fails on time.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import requests

from ..report import RESULTS_DIR, machine_block
from ..servers import LOADGEN_CORE, PROJECT, PYTHON, SERVER_CORES, VENV_BIN, WORK_DIR, free_port
from ..servers import server_env as base_server_env
from ..sysinfo import machine_info
from .console_pages import (
    PROPOSED_INDEXES,
    console_pages,
    dataset,
    proposed_indexes_create,
    sample_keys,
)

DATABASE = os.environ.get("BENCH_CONSOLE_DATABASE", "csms_console_bench")
OPERATOR = "bench-console-operator"
OPERATOR_PASSWORD = "bench-console-operator-password-0123"  # a throw-away local account
TARGET_MS = 300.0


def _url(database: str) -> str:
    return f"postgres://postgres@127.0.0.1:5432/{database}"


def _log(text: str) -> None:
    print(f"[console] {text}", file=sys.stderr, flush=True)


def psql(sql: str) -> str:
    """One statement as the local `postgres` user; its output, unaligned."""
    return subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-At", "-c", sql],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


TREE = WORK_DIR / "console-tree"


def snapshot() -> None:
    """Copy the working tree (not .git, .venv or collected files) and collect its static files."""
    if TREE.exists():
        shutil.rmtree(TREE)
    TREE.mkdir(parents=True)
    ignored = shutil.ignore_patterns(".git", ".venv", "staticfiles", "var", "__pycache__")
    shutil.copytree(PROJECT, TREE, ignore=ignored, dirs_exist_ok=True)
    (TREE / ".venv").symlink_to(PROJECT / ".venv")


def _manage(env: dict, *args: str, timeout: float | None = None) -> None:
    command = ["taskset", "-c", str(LOADGEN_CORE), PYTHON, "manage.py", *args]
    _log(" ".join(shlex.quote(a) for a in command[3:]))
    subprocess.run(command, env=env, cwd=TREE, check=True, timeout=timeout)


def prepare(args, env: dict) -> None:
    """The database exists, is migrated, holds a network and the operator can sign in."""
    if psql(f"SELECT 1 FROM pg_database WHERE datname = '{args.database}'") != "1":
        psql(f"CREATE DATABASE {args.database}")
    _manage(env, "migrate", "--no-input", "-v", "0")
    _manage(env, "collectstatic", "--no-input", "-v", "0")
    if args.generate:
        sizes = [
            f"--charge-points={args.charge_points}",
            f"--sessions={args.sessions}",
            f"--journal-rows={args.journal_rows}",
            f"--seed={args.seed}",
            *getattr(args, "generate_extra", ()),  # a scenario's own generator options
        ]
        _manage(
            env,
            "generate_network",
            "--force",
            *sizes,
            f"--operator={OPERATOR}",
            f"--operator-password={OPERATOR_PASSWORD}",
        )
    else:  # the network of an earlier run; make sure the operator exists
        with psycopg.connect(_url(args.database), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM stations_chargepoint LIMIT 1").fetchone():
                raise SystemExit(f"{args.database} holds no network: run with --generate")
        _manage(
            env,
            "generate_network",
            "--charge-points=1",
            "--sessions=0",
            "--journal-rows=0",
            "--operator-only",
            f"--operator={OPERATOR}",
            f"--operator-password={OPERATOR_PASSWORD}",
        )


def start_server(env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    log_path = WORK_DIR / f"console-server-{port}.log"
    command = [
        "taskset",
        "-c",
        SERVER_CORES,
        str(VENV_BIN / "daphne"),
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        "csms_project.asgi:application",
    ]
    process = subprocess.Popen(
        command, env=env, cwd=TREE, stdout=open(log_path, "w"), stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited at start-up: see {log_path}")
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                return process, base
        except requests.RequestException:
            pass
        time.sleep(0.3)
    process.terminate()
    raise SystemExit(f"the server did not answer in 60 s: see {log_path}")


def _loopback_cookies(session: requests.Session) -> None:
    """Send the Secure cookies (production settings) over the plain loopback, as a browser
    would over the HTTPS of a deployment."""
    for cookie in session.cookies:
        cookie.secure = False


def sign_in(base: str) -> requests.Session:
    session = requests.Session()
    login = f"{base}/admin/login/"
    session.get(login, timeout=30)
    _loopback_cookies(session)
    answer = session.post(
        login,
        data={
            "username": OPERATOR,
            "password": OPERATOR_PASSWORD,
            "csrfmiddlewaretoken": session.cookies.get("csrftoken", ""),
            "next": "/admin/",
        },
        headers={"Referer": login},
        timeout=30,
        allow_redirects=False,
    )
    if answer.status_code != 302 or "sessionid" not in session.cookies:
        raise SystemExit(f"sign-in failed ({answer.status_code}): is the operator generated?")
    _loopback_cookies(session)
    return session


def measure(session: requests.Session, base: str, pages, repeat: int) -> list[dict]:
    rows = []
    for page in pages:
        url = base + page.path
        times, status, size = [], None, 0
        for attempt in range(repeat + 1):  # the first one warms caches up and is not counted
            started = time.perf_counter()
            answer = session.get(url, timeout=120, allow_redirects=False)
            elapsed = (time.perf_counter() - started) * 1000
            status, size = answer.status_code, len(answer.content)
            if attempt:
                times.append(elapsed)
        times.sort()
        row = {
            "group": page.group,
            "page": page.name,
            "path": page.path,
            "status": status,
            "kib": round(size / 1024, 1),
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(_percentile(times, 95), 1),
            "max_ms": round(times[-1], 1),
        }
        row["over_target"] = row["p95_ms"] > TARGET_MS
        _log(
            f"{page.group} / {page.name}: p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms ({status})"
        )
        rows.append(row)
    return rows


def _percentile(values: list[float], percent: float) -> float:
    if len(values) == 1:
        return values[0]
    rank = (len(values) - 1) * percent / 100
    low = int(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)


def write(args, machine: dict, command: str, data: dict, rows: list[dict]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stem = f"{datetime.now(UTC):%Y-%m-%d}-console" + (f"-{args.label}" if args.label else "")
    server = {"processes": 1, "cores": SERVER_CORES}
    document = {
        "scenario": "console",
        "what": "Server time of console pages on a generated network (HTTP on the loopback).",
        "command": command,
        "machine": machine,
        "settings": {
            "repeat": args.repeat,
            "database": args.database,
            "target_ms": TARGET_MS,
            "proposed_indexes": PROPOSED_INDEXES if args.proposed_indexes else None,
        },
        "dataset": data,
        "rows": rows,
    }
    (RESULTS_DIR / f"{stem}.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    sizes = ", ".join(
        f"{t['table']} {t['rows']:,} rows ({t['bytes'] / 2**30:.1f} GiB)"
        for t in data["tables"][:8]
    )
    lines = [
        "# console: server time of console pages on a generated network",
        "",
        machine_block(machine, [server]),
        f"- Command: `{command}`",
        f"- Data set: database {data['database_bytes'] / 2**30:.1f} GiB; {sizes}",
        "- Indexes proposed for other apps (created in the benchmark database only): "
        + (
            ", ".join(f"`{n}` on {t}" for n, t in PROPOSED_INDEXES.items())
            if args.proposed_indexes
            else "none"
        ),
        f"- Each page requested once to warm up, then {args.repeat} times, one at a time, "
        "signed in as a staff operator (not a superuser); time = request sent to last byte "
        f"received on the loopback; one Daphne process, DJANGO_DEBUG=0. Target: {TARGET_MS:g} ms.",
        "",
        "| group | page | status | KiB | p50 ms | p95 ms | max ms | |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        flag = "over target" if row["over_target"] else ""
        lines.append(
            f"| {row['group']} | [{row['page']}]({row['path']}) | {row['status']} | {row['kib']} | "
            f"{row['p50_ms']} | {row['p95_ms']} | {row['max_ms']} | {flag} |"
        )
    lines.append("")
    path = RESULTS_DIR / f"{stem}.md"
    path.write_text("\n".join(lines))
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scenarios.console",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument(
        "--generate", action="store_true", help="(re)build the network first (--force)"
    )
    parser.add_argument("--charge-points", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--journal-rows", type=int, default=100_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=7, help="timed requests per page")
    parser.add_argument(
        "--proposed-indexes",
        action="store_true",
        help="first create the indexes proposed for other apps' lists (console_pages.py) "
        "in the benchmark database",
    )
    parser.add_argument("--only", help="pages whose group or name contains this text")
    parser.add_argument("--label", help="suffix of the results file name")
    parser.add_argument("--drop", action="store_true", help="drop the database afterwards")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.repeat < 1:
        raise SystemExit("--repeat must be at least 1")
    try:
        os.sched_setaffinity(0, {LOADGEN_CORE})
    except OSError:
        _log("could not pin the client")
    command = ".venv/bin/python -m bench.scenarios.console " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    env = base_server_env("pg", {"DATABASE_URL": _url(args.database)})
    machine = machine_info()
    snapshot()
    prepare(args, env)
    if args.proposed_indexes:
        _log("proposed indexes: " + ", ".join(proposed_indexes_create(_url(args.database))))
    keys = sample_keys(_url(args.database))
    pages = console_pages(keys)
    if args.only:
        pages = [p for p in pages if args.only in p.group or args.only in p.name]
    process, base = start_server(env)
    try:
        session = sign_in(base)
        rows = measure(session, base, pages, args.repeat)
    finally:
        process.terminate()
        process.wait(30)
    path = write(args, machine, command, dataset(_url(args.database)), rows)
    _log(f"results: {path}")
    if args.drop:
        psql(f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)")
        _log(f"dropped {args.database}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""api_lists: server time of every list of the REST API on a generated network (issue 25 item 5).

    .venv/bin/python -m bench.scenarios.api_lists --generate \\
        --charge-points 1000 --sessions 1000000        # build, then measure
    .venv/bin/python -m bench.scenarios.api_lists --generate --charge-points 10000 \\
        --sessions 10000000 --distinct-sessions 1000000 --session-days 36 \\
        --meter-values 5 --status-log-rows 2000000     # the issue's size (see BENCHMARKS.md)
    .venv/bin/python -m bench.scenarios.api_lists       # measure again
    .venv/bin/python -m bench.scenarios.api_lists --drop

The console's harness (bench/scenarios/console.py) with the API's requests:
the network of `manage.py generate_network` in its own PostgreSQL database
(BENCH_API_DATABASE, default csms_api_bench, kept between runs), the project
from a copy of the working tree on one Daphne process (DJANGO_DEBUG=0)
pinned to core 0, this client on core 1. It authenticates with API tokens of
the generated operator and of the driver with the most sessions, requests
each list once to warm up, then `--repeat` times: request sent to last byte
received on the loopback. Every list: first page, a deep page, each
documented filter and ordering, the sync cursor (first and a middle page),
the `/me/` lists, and the streamed export of one day. Results: p50 / p95 /
max per request in bench/results/<date>-api-lists-<label>.md and .json.
Nothing passes or fails on time.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shlex
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

import psycopg
import requests

from ..report import RESULTS_DIR, machine_block
from ..servers import LOADGEN_CORE, SERVER_CORES, WORK_DIR
from ..servers import server_env as base_server_env
from ..sysinfo import machine_info
from . import console
from .console_pages import dataset

DATABASE = os.environ.get("BENCH_API_DATABASE", "csms_api_bench")
TARGET_MS = 100.0
API = "/api/v1"


class Request(NamedTuple):
    group: str
    name: str
    path: str
    as_driver: bool = False


def _one(conn, sql: str, params=()):
    row = conn.execute(sql, params).fetchone()
    return row[0] if row else None


def sample_keys(url: str) -> dict:
    """Keys of typical rows: a busy charge point, a driver with many sessions, a day ..."""
    with psycopg.connect(url, autocommit=True) as conn:
        keys = {
            "cp_pk": _one(
                conn,
                "SELECT charge_point_id FROM stations_transaction "
                "GROUP BY charge_point_id ORDER BY count(*) DESC LIMIT 1",
            ),
            "now": _one(conn, "SELECT max(start_timestamp) FROM stations_transaction"),
            "invoice_number": _one(
                conn, "SELECT number FROM billing_invoice ORDER BY id DESC OFFSET 1000 LIMIT 1"
            ),
            "tx_pk": _one(
                conn, "SELECT id FROM stations_transaction ORDER BY id DESC OFFSET 1000 LIMIT 1"
            ),
            "ocpp_tx": _one(
                conn,
                "SELECT ocpp_transaction_id FROM stations_transaction "
                "WHERE ocpp_transaction_id <> '' ORDER BY id DESC LIMIT 1",
            ),
            "station": _one(conn, "SELECT id FROM stations_station ORDER BY id LIMIT 1"),
            "driver_user": _one(
                conn,
                "SELECT d.user_id FROM drivers_driver d JOIN drivers_idtag t ON t.driver_id = d.id "
                "JOIN stations_transaction s ON s.tag_id = t.id "
                "GROUP BY d.user_id ORDER BY count(*) DESC LIMIT 1",
            ),
        }
        keys["journal_uid"] = _one(
            conn,
            "SELECT unique_id FROM ocpp_consumer_journalentry WHERE unique_id <> '' "
            "ORDER BY id DESC OFFSET 1000 LIMIT 1",
        )
        keys["driver_email"] = _one(
            conn,
            "SELECT u.email FROM drivers_user u JOIN drivers_driver d ON d.user_id = u.id "
            "WHERE u.email <> '' ORDER BY d.id DESC LIMIT 1",
        )
        keys["cp_id"] = _one(
            conn, "SELECT charge_point_id FROM stations_chargepoint WHERE id = %s", (keys["cp_pk"],)
        )
        # Meter values (docs/METER_VALUES.md): the session with the most samples among the
        # newest, and one whose raw samples the retention sweep deleted (if any).
        keys["meter_tx"] = _one(
            conn,
            "SELECT transaction_id FROM stations_metervalue WHERE transaction_id IN "
            "(SELECT id FROM stations_transaction ORDER BY id DESC LIMIT 2000) "
            "GROUP BY transaction_id ORDER BY count(*) DESC LIMIT 1",
        )
        keys["pruned_tx"] = _one(
            conn,
            "SELECT transaction_id FROM stations_sessionmeterrollup "
            "WHERE raw_deleted_at IS NOT NULL ORDER BY transaction_id DESC LIMIT 1",
        )
        keys["id_tag"] = _one(
            conn,
            "SELECT t.id_tag FROM drivers_idtag t JOIN drivers_driver d ON d.id = t.driver_id "
            "WHERE d.user_id = %s LIMIT 1",
            (keys["driver_user"],),
        )
        count = _one(
            conn,
            "SELECT reltuples::bigint FROM pg_class WHERE relname = %s",
            ("stations_transaction",),
        )
        middle = conn.execute(
            "SELECT updated_at, id FROM stations_transaction ORDER BY updated_at, id "
            "OFFSET %s LIMIT 1",
            (max(0, count // 2),),
        ).fetchone()
        keys["middle_cursor"] = _cursor(*middle) if middle else ""
        keys["operator_token"] = _token(conn, console.OPERATOR)
        keys["driver_token"] = _token_for_user(conn, keys["driver_user"])
    keys["now"] = keys["now"] or datetime.now(UTC)
    return keys


def _cursor(updated_at: datetime, pk: int) -> str:
    """The API's opaque cursor (api_support/pagination.py), built for a position mid-table."""
    raw = json.dumps({"u": updated_at.isoformat(), "i": pk}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _token(conn, username: str) -> str:
    user = _one(conn, "SELECT id FROM drivers_user WHERE username = %s", (username,))
    return _token_for_user(conn, user)


def _token_for_user(conn, user_id: int) -> str:
    """A DRF token (the kind that never expires) for a benchmark account."""
    existing = _one(conn, "SELECT key FROM authtoken_token WHERE user_id = %s", (user_id,))
    if existing:
        return existing
    key = secrets.token_hex(20)
    conn.execute(
        "INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, now(), %s)",
        (key, user_id),
    )
    return key


def api_requests(keys: dict) -> list[Request]:
    """Every list and documented filter, in the order of docs/API.md."""
    day = keys["now"].astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    since = quote((day - timedelta(days=1)).isoformat())
    until = quote(day.isoformat())
    cp_id = quote(keys["cp_id"], safe="")
    tx = f"{API}/transactions/"
    inv = f"{API}/invoices/"
    cps = f"{API}/charge-points/"
    tags = f"{API}/id-tags/"
    return [
        Request("transactions", "first page", tx),
        Request("transactions", "page_size=1", f"{tx}?page_size=1"),
        Request("transactions", "page 5000 (deep)", f"{tx}?page=5000"),
        Request("transactions", "charge_point", f"{tx}?charge_point={cp_id}"),
        Request(
            "transactions",
            "charge_point + connector_id",
            f"{tx}?charge_point={cp_id}&connector_id=1",
        ),
        Request("transactions", "connector_id", f"{tx}?connector_id=1"),
        Request("transactions", "id_tag", f"{tx}?id_tag={quote(keys['id_tag'])}"),
        Request(
            "transactions", "ocpp_transaction_id", f"{tx}?ocpp_transaction_id={keys['ocpp_tx']}"
        ),
        Request("transactions", "is_open=true", f"{tx}?is_open=true"),
        Request("transactions", "is_open=false", f"{tx}?is_open=false"),
        Request("transactions", "status=ended", f"{tx}?status=ended"),
        Request("transactions", "disputed=true", f"{tx}?disputed=true"),
        Request("transactions", "stop_reason=EVDisconnected", f"{tx}?stop_reason=EVDisconnected"),
        Request(
            "transactions", "started in a day", f"{tx}?started_after={since}&started_before={until}"
        ),
        Request(
            "transactions", "stopped in a day", f"{tx}?stopped_after={since}&stopped_before={until}"
        ),
        Request("transactions", "ordering=-energy_wh", f"{tx}?ordering=-energy_wh"),
        Request("transactions", "ordering=stop_timestamp", f"{tx}?ordering=stop_timestamp"),
        Request("transactions", "ordering=-stop_timestamp", f"{tx}?ordering=-stop_timestamp"),
        Request("transactions", "updated_since a day", f"{tx}?updated_since={since}"),
        Request("transactions", "cursor: first page", f"{tx}?page_mode=cursor"),
        Request("transactions", "cursor: middle page", f"{tx}?cursor={keys['middle_cursor']}"),
        Request(
            "transactions",
            "cursor: middle page, 500 rows",
            f"{tx}?cursor={keys['middle_cursor']}&page_size=500",
        ),
        Request(
            "transactions", "search (id tag, icontains)", f"{tx}?search={quote(keys['id_tag'])}"
        ),
        *_meter_requests(keys, tx),
        Request("invoices", "first page", inv),
        Request("invoices", "page 5000 (deep)", f"{inv}?page=5000"),
        Request("invoices", "transaction", f"{inv}?transaction={keys['tx_pk']}"),
        Request("invoices", "charge_point", f"{inv}?charge_point={cp_id}"),
        Request("invoices", "id_tag", f"{inv}?id_tag={quote(keys['id_tag'])}"),
        Request("invoices", "number", f"{inv}?number={keys['invoice_number']}"),
        Request("invoices", "currency", f"{inv}?currency=EUR"),
        Request("invoices", "total__gte=40", f"{inv}?total__gte=40"),
        Request("invoices", "issued in a day", f"{inv}?issued_after={since}&issued_before={until}"),
        Request("invoices", "ordering=-total", f"{inv}?ordering=-total"),
        Request("invoices", "updated_since a day", f"{inv}?updated_since={since}"),
        Request("invoices", "cursor: first page", f"{inv}?page_mode=cursor"),
        Request("charge points", "first page", cps),
        Request("charge points", "is_online=false", f"{cps}?is_online=false"),
        Request("charge points", "connector_status=Available", f"{cps}?connector_status=Available"),
        Request("charge points", "station", f"{cps}?station={keys['station']}"),
        Request("charge points", "cursor: first page", f"{cps}?page_mode=cursor"),
        Request("id tags", "first page", tags),
        Request("id tags", "page 500 (deep)", f"{tags}?page=500"),
        Request("id tags", "status=Accepted", f"{tags}?status=Accepted"),
        Request("id tags", "cursor: first page", f"{tags}?page_mode=cursor"),
        Request("stations", "first page", f"{API}/stations/"),
        *_other_lists(keys, cp_id),
        Request("me (driver)", "my transactions", f"{API}/me/transactions/", True),
        Request(
            "me (driver)",
            "my transactions, cursor",
            f"{API}/me/transactions/?page_mode=cursor",
            True,
        ),
        Request("me (driver)", "my invoices", f"{API}/me/invoices/", True),
        Request("me (driver)", "my id tags", f"{API}/me/id-tags/", True),
        Request("me (driver)", "transactions (driver's view)", tx, True),
        Request(
            "exports",
            "transactions.csv, one day",
            f"{API}/exports/transactions.csv?start={since}&end={until}",
        ),
        Request(
            "exports",
            "invoices.json, one day",
            f"{API}/exports/invoices.json?start={since}&end={until}",
        ),
    ]


def _other_lists(keys: dict, cp_id: str) -> list[Request]:
    """The operators' other lists: connectors, drivers, the message journal, a charge
    point's commands, and the small ones (tariffs, reservations, profiles, failures)."""
    journal, drivers, connectors = f"{API}/journal/", f"{API}/drivers/", f"{API}/connectors/"
    return [
        Request("connectors", "first page", connectors),
        Request("connectors", "status=Faulted", f"{connectors}?status=Faulted"),
        Request("connectors", "charge_point", f"{connectors}?charge_point={cp_id}"),
        Request("drivers", "first page", drivers),
        Request("drivers", "email", f"{drivers}?email={quote(keys['driver_email'] or '')}"),
        Request("drivers", "id_tag", f"{drivers}?id_tag={quote(keys['id_tag'])}"),
        Request("journal", "first page", journal),
        Request("journal", "charge_point", f"{journal}?charge_point={cp_id}"),
        Request("journal", "action", f"{journal}?action=StatusNotification"),
        Request("journal", "message_type=4 (CALLERROR)", f"{journal}?message_type=4"),
        Request("journal", "error_code", f"{journal}?error_code=FormationViolation"),
        Request("journal", "unique_id", f"{journal}?unique_id={keys['journal_uid']}"),
        Request("journal", "search (message id)", f"{journal}?search={keys['journal_uid']}"),
        Request("commands", "of a charge point", f"{API}/charge-points/{cp_id}/commands/"),
        Request("small lists", "tariffs", f"{API}/tariffs/"),
        Request("small lists", "reservations", f"{API}/reservations/"),
        Request("small lists", "charging-profiles", f"{API}/charging-profiles/"),
        Request("small lists", "billing-failures", f"{API}/billing-failures/"),
    ]


def _meter_requests(keys: dict, tx: str) -> list[Request]:
    """A session's meter values and chart series, raw and (when there is one) rolled up."""
    found = []
    for label, pk in (("raw", keys.get("meter_tx")), ("rolled up", keys.get("pruned_tx"))):
        if pk is None:
            continue
        session = f"{tx}{pk}/"
        found += [
            Request("meter values", f"meter-values ({label})", f"{session}meter-values/"),
            Request(
                "meter values",
                f"meter-values ?measurand=Power.Active.Import ({label})",
                f"{session}meter-values/?measurand=Power.Active.Import",
            ),
            Request("meter values", f"timeseries energy ({label})", f"{session}timeseries/"),
            Request(
                "meter values",
                f"timeseries power ({label})",
                f"{session}timeseries/?measurand=Power.Active.Import",
            ),
        ]
    return found


def _session(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    return session


def write(args, machine: dict, command: str, data: dict, rows: list[dict]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stem = f"{datetime.now(UTC):%Y-%m-%d}-api-lists" + (f"-{args.label}" if args.label else "")
    document = {
        "scenario": "api_lists",
        "what": "Server time of REST API lists on a generated network (HTTP on the loopback).",
        "command": command,
        "machine": machine,
        "settings": {"repeat": args.repeat, "database": args.database, "target_ms": TARGET_MS},
        "dataset": data,
        "rows": rows,
    }
    (RESULTS_DIR / f"{stem}.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    sizes = ", ".join(
        f"{t['table']} {t['rows']:,} rows ({t['bytes'] / 2**30:.1f} GiB)"
        for t in data["tables"][:8]
    )
    lines = [
        "# api_lists: server time of REST API lists on a generated network",
        "",
        machine_block(machine, [{"processes": 1, "cores": SERVER_CORES}]),
        f"- Command: `{command}`",
        f"- Data set: database {data['database_bytes'] / 2**30:.1f} GiB; {sizes}",
        f"- Each request once to warm up, then {args.repeat} times, one at a time, with the "
        "token of a staff operator (not a superuser) or of the driver with the most sessions; "
        "time = request sent to last byte received on the loopback; one Daphne process, "
        f"DJANGO_DEBUG=0, page size 50 unless given. Target: {TARGET_MS:g} ms.",
        "",
        "| group | request | status | KiB | p50 ms | p95 ms | max ms | |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        flag = "over target" if row["over_target"] else ""
        lines.append(
            f"| {row['group']} | `{row['page']}` | {row['status']} | {row['kib']} | "
            f"{row['p50_ms']} | {row['p95_ms']} | {row['max_ms']} | {flag} |"
        )
    lines.append("")
    path = RESULTS_DIR / f"{stem}.md"
    path.write_text("\n".join(lines))
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scenarios.api_lists",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--generate", action="store_true", help="(re)build the network first")
    parser.add_argument("--charge-points", type=int, default=1_000)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--journal-rows", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    # Passed on to generate_network when given (its defaults otherwise).
    for option in ("--distinct-sessions", "--meter-values", "--session-days", "--status-log-rows"):
        parser.add_argument(option, type=int)
    parser.add_argument("--repeat", type=int, default=7, help="timed requests per list")
    parser.add_argument("--only", help="requests whose group or name contains this text")
    parser.add_argument("--label", help="suffix of the results file name, e.g. 1m")
    parser.add_argument("--drop", action="store_true", help="drop the database afterwards")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.repeat < 1:
        raise SystemExit("--repeat must be at least 1")
    args.generate_extra = [
        f"--{name.replace('_', '-')}={getattr(args, name)}"
        for name in ("distinct_sessions", "meter_values", "session_days", "status_log_rows")
        if getattr(args, name) is not None
    ]
    try:
        os.sched_setaffinity(0, {LOADGEN_CORE})
    except OSError:
        print("[api_lists] could not pin the client", file=sys.stderr)
    command = ".venv/bin/python -m bench.scenarios.api_lists " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    url = console._url(args.database)
    env = base_server_env("pg", {"DATABASE_URL": url})
    machine = machine_info()
    # The console's harness, in a tree of its own (the two may run one after the other).
    console.TREE = WORK_DIR / "api-lists-tree"
    console.snapshot()
    console.prepare(args, env)
    keys = sample_keys(url)
    wanted = api_requests(keys)
    if args.only:
        wanted = [r for r in wanted if args.only in r.group or args.only in r.name]
    process, base = console.start_server(env)
    try:
        operator, driver = _session(keys["operator_token"]), _session(keys["driver_token"])
        rows = []
        for request in wanted:
            session = driver if request.as_driver else operator
            rows += console.measure(session, base, [request], args.repeat)
    finally:
        process.terminate()
        process.wait(30)
    for row in rows:
        row["over_target"] = row["p95_ms"] > TARGET_MS
    path = write(args, machine, command, dataset(url), rows)
    print(f"[api_lists] results: {path}", file=sys.stderr)
    if args.drop:
        console.psql(f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The console pages the console benchmark times, and the rows they show.

Pages are addressed by URL only (the benchmark is an HTTP client of the
server under test); the keys they need (a charge point, an ended session
with meter values, a journal row...) are looked up in the benchmark database
once, with plain SQL, before the server starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg


@dataclass(frozen=True)
class Page:
    group: str
    name: str
    path: str


CHARGE_POINTS = "/admin/stations/chargepoint/"
SESSIONS = "/admin/stations/transaction/"
JOURNAL = "/admin/ocpp_consumer/journalentry/"
COMMANDS = "/admin/ocpp_consumer/command/"
INVOICES = "/admin/billing/invoice/"
KEYS = {
    # The middle charge point.
    "cp_pk": "SELECT id FROM stations_chargepoint ORDER BY id "
    "OFFSET (SELECT count(*) / 2 FROM stations_chargepoint) LIMIT 1",
    # A session of yesterday or before with meter values (the chart).
    "tx_pk": "SELECT t.id FROM stations_transaction t WHERE t.status = 'ended' "
    "AND t.stop_timestamp < now() - interval '1 day' "
    "AND EXISTS (SELECT 1 FROM stations_metervalue m WHERE m.transaction_id = t.id) "
    "ORDER BY t.start_timestamp DESC LIMIT 1",
    "running_pk": "SELECT id FROM stations_transaction WHERE status = 'running' LIMIT 1",
    "journal_pk": "SELECT id FROM ocpp_consumer_journalentry "
    "ORDER BY timestamp DESC, id DESC OFFSET 5000 LIMIT 1",
    "command_pk": "SELECT id FROM ocpp_consumer_command ORDER BY created_at DESC LIMIT 1",
    "invoice_pk": "SELECT id FROM billing_invoice ORDER BY issued_at DESC LIMIT 1",
    "now": "SELECT max(timestamp) FROM ocpp_consumer_journalentry",
}
DEPENDENT = {
    "cp_id": ("SELECT charge_point_id FROM stations_chargepoint WHERE id = %s", "cp_pk"),
    "unique_id": ("SELECT unique_id FROM ocpp_consumer_journalentry WHERE id = %s", "journal_pk"),
    "invoice_number": ("SELECT number FROM billing_invoice WHERE id = %s", "invoice_pk"),
}


# Indexes the console lists of other apps need at scale (each matches a list's default
# order). They were measured here first (--proposed-indexes) and are now created by the
# apps' migrations under the same names, so the option only matters for an older schema.
PROPOSED_INDEXES = {
    "tx_start_id_idx": "stations_transaction (start_timestamp DESC, id DESC)",
    "metervalue_time_id_idx": "stations_metervalue (timestamp, id)",
    "statuslog_received_idx": "stations_connectorstatuslog (received_at DESC, id DESC)",
    "invoice_issued_id_idx": "billing_invoice (issued_at DESC, id DESC)",
    "command_created_id_idx": "ocpp_consumer_command (created_at DESC, id DESC)",
}


def proposed_indexes_create(url: str) -> list[str]:
    """Create the proposed indexes that do not exist yet; return the names now present."""
    with psycopg.connect(url, autocommit=True) as conn:
        for name, target in PROPOSED_INDEXES.items():
            conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")
            conn.execute(f"ANALYZE {target.split()[0]}")
    return list(PROPOSED_INDEXES)


def sample_keys(url: str) -> dict:
    """Keys of typical rows: the middle charge point, a recent ended session, and so on."""
    with psycopg.connect(url, autocommit=True) as conn:

        def one(sql: str, params=()):
            row = conn.execute(sql, params).fetchone()
            return row[0] if row else None

        keys = {name: one(sql) for name, sql in KEYS.items()}
        for name, (sql, key) in DEPENDENT.items():
            keys[name] = one(sql, (keys[key],))
    keys["now"] = keys["now"] or datetime.now(UTC)
    return keys


def console_pages(keys: dict) -> list[Page]:
    """Every page the issue names, in the order an operator meets them."""
    day = (keys["now"] - timedelta(days=1)).astimezone(UTC)
    cp, cp_id, tx = keys["cp_pk"], keys["cp_id"], keys["tx_pk"]

    def month(field: str) -> str:
        return f"?{field}__year={day.year}&{field}__month={day.month}"

    pages = [
        Page("home", "admin index", "/admin/"),
        Page("home", "dashboard", "/admin/dashboard/"),
        Page("charge points", "list", CHARGE_POINTS),
        Page("charge points", "search (id)", f"{CHARGE_POINTS}?q={cp_id}"),
        Page("charge points", "filter offline", f"{CHARGE_POINTS}?is_online__exact=0"),
        Page(
            "charge points", "filter pending", f"{CHARGE_POINTS}?registration_status__exact=Pending"
        ),
        Page("charge points", "page", f"{CHARGE_POINTS}{cp}/change/"),
        Page("sessions", "list", SESSIONS),
        Page("sessions", "filter running", f"{SESSIONS}?status__exact=running"),
        Page("sessions", "filter disputed", f"{SESSIONS}?disputed=waiting"),
        Page("sessions", "filter charge point", f"{SESSIONS}?charge_point__id__exact={cp}"),
        Page("sessions", "search (id)", f"{SESSIONS}?q={tx}"),
        Page("sessions", "month", SESSIONS + month("start_timestamp")),
        Page("sessions", "page 50", f"{SESSIONS}?p=50"),
        Page("sessions", "page with chart", f"{SESSIONS}{tx}/change/"),
        Page("sessions", "running page", f"{SESSIONS}{keys['running_pk']}/change/"),
        Page("meter values", "list", "/admin/stations/metervalue/"),
        Page(
            "meter values",
            "of a session",
            f"/admin/stations/metervalue/?transaction__id__exact={tx}",
        ),
        Page("status notifications", "list", "/admin/stations/connectorstatuslog/"),
        Page("journal", "list", JOURNAL),
        Page("journal", "filter action", f"{JOURNAL}?action=StatusNotification"),
        Page("journal", "filter CALLERROR", f"{JOURNAL}?message_type__exact=4"),
        Page("journal", "filter direction", f"{JOURNAL}?direction__exact=out"),
        Page("journal", "search charge point", f"{JOURNAL}?q={cp_id}"),
        Page("journal", "search message id", f"{JOURNAL}?q={keys['unique_id']}"),
        Page("journal", "month", JOURNAL + month("timestamp")),
        Page("journal", "day", JOURNAL + month("timestamp") + f"&timestamp__day={day.day}"),
        Page("journal", "page 50", f"{JOURNAL}?p=50"),
        Page("journal", "page 200", f"{JOURNAL}?p=200"),
        Page("journal", "entry", f"{JOURNAL}{keys['journal_pk']}/change/"),
        Page("commands", "list", COMMANDS),
        Page("commands", "filter timed out", f"{COMMANDS}?status__exact=timed_out"),
        Page("commands", "search charge point", f"{COMMANDS}?q={cp_id}"),
        Page("commands", "page", f"{COMMANDS}{keys['command_pk']}/change/"),
        Page("invoices", "list", INVOICES),
        Page("invoices", "search number", f"{INVOICES}?q={keys['invoice_number']}"),
        Page("invoices", "page", f"{INVOICES}{keys['invoice_pk']}/change/"),
    ]
    return [page for page in pages if "None" not in page.path]


def dataset(url: str) -> dict:
    """Rows (planner estimate) and size on disk (table + indexes) of the largest tables."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            """
            SELECT c.relname, c.reltuples::bigint, pg_total_relation_size(c.oid),
                   pg_indexes_size(c.oid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND n.nspname = 'public'
            ORDER BY pg_total_relation_size(c.oid) DESC LIMIT 12
            """
        ).fetchall()
        database = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    return {
        "database_bytes": database,
        "tables": [
            {"table": name, "rows": count, "bytes": total, "index_bytes": indexes}
            for name, count, total, indexes in rows
        ],
    }

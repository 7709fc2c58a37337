"""Years of ended sessions copied by PostgreSQL itself (`--distinct-sessions`).

Drawing ten million sessions one by one in Python, and again for their
invoices and lines, takes about an hour; the shape of a network's history
does not need ten million different draws. Here the sessions drawn in
Python (with their invoices and invoice lines) are copied by the database,
each copy one `--session-days` further back in time: every timestamp moved
by the same amount, so a copy is as consistent as the draw (sessions follow
each other on a connector, invoices follow their sessions, a dispute is
decided a day after it was raised). What must stay unique changes with the
copy: the keys, a 2.0.1 charger's transactionId (the copy's number
appended) and the invoice numbers (numbered on per year after those
already given).

Keys: copy k of drawn session `id` is `id + k x drawn`, so the ended
sessions stay one contiguous range (meter_sql.py builds their meter values
by it). Invoices and their lines are offset the same way by the number of
drawn invoices and lines.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, models, transaction

from billing.models import Invoice, InvoiceLine
from stations.models import Transaction

ROWS_PER_STATEMENT = 500_000  # drawn sessions per INSERT: progress and a bounded transaction


@dataclass(frozen=True)
class Drawn:
    """The keys the Python draw wrote: first key and how many of each."""

    first_tx: int
    sessions: int
    first_invoice: int
    invoices: int
    first_line: int
    lines: int


def history_copy(
    *, drawn: Drawn, total: int, shift_days: int, numbers: dict[int, int], out: Callable
) -> dict:
    """Copy the drawn sessions, invoices and lines until there are `total` ended sessions.

    `numbers` (year -> last invoice number given in it) is brought up to date with the
    copies' invoices. Returns how many sessions, invoices and invoice lines were added.
    """
    added = {"sessions": 0, "invoices": 0, "invoice_lines": 0}
    started = time.perf_counter()
    last_tx = drawn.first_tx + total - 1
    copies = -(-total // drawn.sessions) - 1  # the draw itself is copy 0
    for k in range(1, copies + 1):
        offset = k * drawn.sessions
        shift = f"{k * shift_days} days"
        # The draw's sessions whose copy is still within `total` (all but in the last copy).
        source_high = min(drawn.first_tx + drawn.sessions - 1, last_tx - offset)
        with transaction.atomic(), connection.cursor() as cursor:
            for low in range(drawn.first_tx, source_high + 1, ROWS_PER_STATEMENT):
                high = min(low + ROWS_PER_STATEMENT - 1, source_high)
                cursor.execute(
                    _copy_statement(
                        Transaction, _SESSION_OVERRIDES, "s.id BETWEEN %(low)s AND %(high)s"
                    ),
                    {"k": k, "offset": offset, "shift": shift, "low": low, "high": high},
                )
                added["sessions"] += cursor.rowcount
            invoices, invoice_high = _invoices_copy(
                cursor, drawn=drawn, k=k, shift=shift, source_tx_high=source_high, numbers=numbers
            )
            added["invoices"] += invoices
            added["invoice_lines"] += _lines_copy(
                cursor, drawn=drawn, k=k, invoice_high=invoice_high
            )
        seconds = time.perf_counter() - started
        out(
            f"  history copied in the database: copy {k} of {copies}, "
            f"{added['sessions']:,} sessions, {added['invoices']:,} invoices, "
            f"{added['invoice_lines']:,} lines ({seconds:,.1f} s)"
        )
    return added


# Column -> SQL over the source row `s`; every other timestamp column is moved back by the shift.
_SESSION_OVERRIDES = {
    "id": "s.id + %(offset)s",
    "ocpp_transaction_id": (
        "CASE WHEN s.ocpp_transaction_id = '' THEN '' "
        "ELSE s.ocpp_transaction_id || '-' || %(k)s END"
    ),
}
_INVOICE_OVERRIDES = {
    "id": "s.id + %(invoice_offset)s",
    "transaction_id": "s.transaction_id + %(offset)s",
    "number": "s.year::text || '-' || lpad(s.seq::text, greatest(6, length(s.seq::text)), '0')",
}
_LINE_OVERRIDES = {
    "id": "s.id + %(line_offset)s",
    "invoice_id": "s.invoice_id + %(invoice_offset)s",
}


def _copy_statement(model, overrides: dict[str, str], where: str, source: str = "") -> str:
    """INSERT ... SELECT of the model's rows `s` that match `where` (from `source`, a
    subquery, or the table itself), with `overrides` and every timestamp moved back."""
    table = model._meta.db_table
    names, values = [], []
    for field in model._meta.concrete_fields:
        names.append(field.column)
        if field.column in overrides:
            values.append(overrides[field.column])
        elif isinstance(field, models.DateTimeField):
            values.append(f"s.{field.column} - %(shift)s::interval")
        else:
            values.append(f"s.{field.column}")
    return (
        f"INSERT INTO {table} ({', '.join(names)}) "  # noqa: S608 - our tables and columns
        f"SELECT {', '.join(values)} FROM {source or table} s WHERE {where}"
    )


def _invoices_copy(
    cursor, *, drawn: Drawn, k: int, shift: str, source_tx_high: int, numbers: dict[int, int]
) -> tuple[int, int]:
    """Copy k of the invoices of the drawn sessions up to `source_tx_high`, numbered on
    per year of issue after `numbers`; returns (how many, the last drawn invoice copied)."""
    table = Invoice._meta.db_table
    invoice_offset = k * drawn.invoices
    # Each year's invoices of the copy in order of issue, after the year's last number.
    source = f"""(
        SELECT i.*, y.year, coalesce((%(numbers)s::jsonb ->> y.year::text)::int, 0)
               + row_number() OVER (PARTITION BY y.year ORDER BY i.issued_at, i.id) AS seq
        FROM {table} i
        CROSS JOIN LATERAL (SELECT extract(
            year FROM (i.issued_at - %(shift)s::interval) AT TIME ZONE 'UTC')::int AS year) y
        WHERE i.id BETWEEN %(low)s AND %(high)s AND i.transaction_id <= %(source_tx_high)s
    )"""
    params = {
        "shift": shift,
        "offset": k * drawn.sessions,
        "invoice_offset": invoice_offset,
        "low": drawn.first_invoice,
        "high": drawn.first_invoice + drawn.invoices - 1,
        "source_tx_high": source_tx_high,
        "numbers": json.dumps({str(year): last for year, last in numbers.items()}),
    }
    cursor.execute(_copy_statement(Invoice, _INVOICE_OVERRIDES, "true", source), params)
    copied = cursor.rowcount
    cursor.execute(
        f"SELECT split_part(number, '-', 1)::int, count(*) FROM {table} "  # noqa: S608
        "WHERE id BETWEEN %s AND %s GROUP BY 1",
        [params["low"] + invoice_offset, params["high"] + invoice_offset],
    )
    for year, count in cursor.fetchall():
        numbers[year] = numbers.get(year, 0) + count
    return copied, drawn.first_invoice + copied - 1


def _lines_copy(cursor, *, drawn: Drawn, k: int, invoice_high: int) -> int:
    """Copy k of the lines of the drawn invoices up to `invoice_high`."""
    cursor.execute(
        _copy_statement(
            InvoiceLine,
            _LINE_OVERRIDES,
            "s.id BETWEEN %(low)s AND %(high)s AND s.invoice_id <= %(invoice_high)s",
        ),
        {
            "shift": "0 days",
            "line_offset": k * drawn.lines,
            "invoice_offset": k * drawn.invoices,
            "low": drawn.first_line,
            "high": drawn.first_line + drawn.lines - 1,
            "invoice_high": invoice_high,
        },
    )
    return cursor.rowcount

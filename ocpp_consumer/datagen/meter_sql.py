"""Ended sessions' meter values written by PostgreSQL itself (`--meter-values-sql`).

Streaming 300 million rows from Python with COPY takes hours (every row is
built and sent); here the database builds them from the sessions already
loaded, with one INSERT ... SELECT per block of sessions: minutes. The shape
is that of the streamed rows, simplified: `--meter-values` readings per
session spread evenly from start to stop (Transaction.Begin, Sample.Periodic,
Transaction.End), each an energy register growing evenly to meterStop and
the session's average power (0 at the start and stop readings). Refused
sessions get none, as in the streamed path.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from django.db import connection, transaction

from stations.choices import SessionStatus

SESSIONS_PER_STATEMENT = 50_000
WORKERS = 2  # statements at once: the machines this is run on have a few cores

# %(...)s parameters: psycopg binds them; the table names are ours.
_INSERT = """
INSERT INTO stations_metervalue (
    id, charge_point_id, connector_id, transaction_id, timestamp, value, numeric_value,
    measurand, phase, unit, context, location, format, received_at
)
SELECT
    %(first_pk)s + ((t.id - %(first_tx)s) * %(readings)s + i) * 2 + k,
    t.charge_point_id,
    t.connector_id,
    t.id,
    r.at,
    CASE WHEN k = 0 THEN r.register ELSE r.power END::text,
    CASE WHEN k = 0 THEN r.register ELSE r.power END,
    CASE WHEN k = 0 THEN 'Energy.Active.Import.Register' ELSE 'Power.Active.Import' END,
    '',
    CASE WHEN k = 0 THEN 'Wh' ELSE 'W' END,
    CASE WHEN i = 0 THEN 'Transaction.Begin'
         WHEN i = %(readings)s - 1 THEN 'Transaction.End'
         ELSE 'Sample.Periodic' END,
    'Outlet',
    'Raw',
    r.at + interval '1.5 seconds'
FROM stations_transaction t
CROSS JOIN generate_series(0, %(readings)s - 1) AS i
CROSS JOIN LATERAL (
    SELECT
        t.start_timestamp + (t.stop_timestamp - t.start_timestamp) * i / (%(readings)s - 1) AS at,
        t.meter_start + coalesce(t.energy_wh, 0) * i / (%(readings)s - 1) AS register,
        CASE WHEN i = 0 OR i = %(readings)s - 1 THEN 0
             ELSE (coalesce(t.energy_wh, 0) * 3600 / greatest(
                 extract(epoch FROM t.stop_timestamp - t.start_timestamp), 1))::bigint
        END AS power
) AS r
CROSS JOIN generate_series(0, 1) AS k
WHERE t.id BETWEEN %(low)s AND %(high)s
  AND t.stop_timestamp IS NOT NULL
  AND t.status <> %(refused)s
"""


def meter_values_insert(
    *, first_tx: int, last_tx: int, readings: int, first_pk: int, out, fast_keys: bool = False
) -> int:
    """Write the meter values of the ended sessions first_tx..last_tx; return how many rows.

    Their primary keys are first_pk + 2 x (session offset x readings + reading)
    (+1 for power): what follows them starts at the returned `next_pk`. Blocks of
    sessions are written by WORKERS connections at once (PostgreSQL runs a statement on
    one core); `fast_keys`: foreign keys unchecked, as the loader's own connection has them.
    """
    blocks = [
        (low, min(low + SESSIONS_PER_STATEMENT - 1, last_tx))
        for low in range(first_tx, last_tx + 1, SESSIONS_PER_STATEMENT)
    ]
    params = {"first_pk": first_pk, "first_tx": first_tx, "readings": readings}
    written = 0
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for rows in pool.map(lambda block: _block_insert(block, params, fast_keys), blocks):
            written += rows
            seconds = time.perf_counter() - started
            out(
                f"  meter values (in the database): {written:,} rows ... "
                f"({seconds:.1f} s, {written / max(seconds, 1e-9):,.0f} rows/s)"
            )
    return written


def _block_insert(block: tuple[int, int], params: dict, fast_keys: bool) -> int:
    """One block in this thread's own connection, closed after (threads do not share one)."""
    low, high = block
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if fast_keys:
                cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute(
                _INSERT, {**params, "low": low, "high": high, "refused": SessionStatus.REFUSED}
            )
            return cursor.rowcount
    finally:
        connection.close()


def next_pk(*, first_tx: int, last_tx: int, readings: int, first_pk: int) -> int:
    """The first primary key after those meter_values_insert gives."""
    return first_pk + (last_tx - first_tx + 1) * readings * 2

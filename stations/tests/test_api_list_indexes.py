"""The API's list queries can be answered by an index, for every documented filter and ordering.

The queries are the ones the API sends (captured from real requests); each
is EXPLAINed on PostgreSQL with sequential scans discouraged, as the planner
sees a table of millions, and must use one of the indexes made for it. Plans,
not timings: the benchmark (bench/scenarios/api_lists.py) measures the time.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from api_support.testing import (
    T0,
    client_for,
    make_charge_point,
    make_driver,
    make_invoice,
    make_operator,
    make_session,
)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL plans"),
]

VIEW = (
    "stations.view_transaction",
    "stations.view_chargepoint",
    "billing.view_invoice",
    "drivers.view_idtag",
)

# (request, the table its page keys come from, indexes that may serve it)
CASES = [
    ("/api/v1/transactions/", "stations_transaction", {"tx_start_id_idx"}),
    ("/api/v1/transactions/?status=ended", "stations_transaction", {"tx_status_start_idx"}),
    (
        "/api/v1/transactions/?is_open=true",
        "stations_transaction",
        {"tx_status_start_idx", "tx_running_id_tag_idx", "transaction_one_running_per_connector"},
    ),
    ("/api/v1/transactions/?ordering=-energy_wh", "stations_transaction", {"tx_energy_id_idx"}),
    ("/api/v1/transactions/?ordering=energy_wh", "stations_transaction", {"tx_energy_id_idx"}),
    ("/api/v1/transactions/?ordering=stop_timestamp", "stations_transaction", {"tx_stop_id_idx"}),
    ("/api/v1/transactions/?ordering=-stop_timestamp", "stations_transaction", {"tx_stop_id_idx"}),
    ("/api/v1/transactions/?page_mode=cursor", "stations_transaction", {"tx_updated_id_idx"}),
    ("/api/v1/transactions/?id_tag=tag7", "stations_transaction", {"tx_id_tag_idx"}),
    (
        "/api/v1/transactions/?ocpp_transaction_id=uuid-7",
        "stations_transaction",
        {"tx_ocpp_id_idx", "transaction_ocpp_id_unique_per_charge_point"},
    ),
    (
        "/api/v1/transactions/?started_after=2026-11-27T00:00:00Z",
        "stations_transaction",
        {"tx_start_id_idx"},
    ),
    (
        "/api/v1/transactions/?connector_id=2&charge_point=CP-IDX",
        "stations_transaction",
        # the connector's own index (its foreign key's, on a small table) serves as well
        {
            "tx_connector_start_idx",
            "tx_cp_start_idx",
            "stations_transaction_connector_id_3071c537",
        },
    ),
    ("/api/v1/invoices/", "billing_invoice", {"invoice_issued_id_idx"}),
    ("/api/v1/invoices/?ordering=-total", "billing_invoice", {"invoice_total_id_idx"}),
    (
        "/api/v1/invoices/?total__gte=90",
        "billing_invoice",
        {"invoice_total_id_idx", "invoice_issued_id_idx"},
    ),
    ("/api/v1/invoices/?page_mode=cursor", "billing_invoice", {"invoice_updated_id_idx"}),
    (
        "/api/v1/charge-points/?page_mode=cursor",
        "stations_chargepoint",
        {"chargepoint_updated_id_idx"},
    ),
    ("/api/v1/id-tags/?page_mode=cursor", "drivers_idtag", {"idtag_updated_id_idx"}),
]


@pytest.fixture
def network(settings):
    settings.API_SYNC_SAFETY_LAG_SECONDS = 0
    charge_point = make_charge_point("CP-IDX", connectors={n: "Available" for n in range(1, 5)})
    make_driver("owner", "TAG7")
    for number in range(300):
        session = make_session(
            charge_point,
            f"TAG{number % 40}",
            connector_id=1 + number % 4,
            energy_wh=number * 7 % 1000,
            start=T0 + timedelta(hours=number),
            ocpp_transaction_id=f"uuid-{number}",
        )
        make_invoice(session, total=f"{number % 100}.00")
    with connection.cursor() as cursor:
        for table in ("stations_transaction", "billing_invoice", "drivers_idtag"):
            cursor.execute(f"ANALYZE {table}")


def page_query(client, path: str, table: str) -> str:
    """The SQL that reads the page's rows (or their keys) from `table`."""
    with CaptureQueriesContext(connection) as captured:
        answer = client.get(path)
    assert answer.status_code == 200, answer.content
    for query in captured.captured_queries:
        sql = query["sql"]
        if re.match(rf'SELECT .* FROM "{table}"', sql) and "LIMIT" in sql and "ORDER BY" in sql:
            return sql
    raise AssertionError(f"no page query on {table} for {path}")


def plan(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize("path, table, indexes", CASES)
def test_each_filter_and_ordering_is_served_by_its_index(network, path, table, indexes):
    client = client_for(make_operator(*VIEW))
    text = plan(page_query(client, path, table))
    used = set(
        re.findall(r"(?:Index|Index Only|Bitmap Index) Scan(?: Backward)? (?:using|on) (\w+)", text)
    )
    assert used & indexes, f"{path}: {used or 'no index'}\n{text}"


def test_a_drivers_sessions_are_found_by_their_tags_not_by_a_scan(network):
    client = client_for(make_driver("someone", "TAG3", "TAG9"))
    text = plan(page_query(client, "/api/v1/me/transactions/", "stations_transaction"))
    assert "Seq Scan on stations_transaction" not in text, text
    # The b-tree of the tags, or (on a small table the planner may prefer it) the search's
    # trigram index, which answers equality too.
    assert "tx_id_tag_idx" in text or "transaction_id_tag_trgm" in text, text

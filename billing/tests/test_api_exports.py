"""Exports of sessions and invoices: streamed, complete, for operators only."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient
from django.utils import timezone

from api_support.testing import (
    T0,
    client_for,
    make_charge_point,
    make_driver,
    make_invoice,
    make_operator,
    make_session,
)
from billing import selectors
from billing.models import Invoice

pytestmark = pytest.mark.django_db

EXPORTERS = ("stations.view_transaction", "billing.view_invoice")


@pytest.fixture
def sessions():
    charge_point = make_charge_point("CP-EXP", connectors={1: "Available", 2: "Available"})
    made = []
    for day in range(5):
        session = make_session(
            charge_point, f"=TAG{day}", energy_wh=1000 + day, start=T0 + timedelta(days=day)
        )
        make_invoice(session, total=f"{day + 1}.00")
        made.append(session)
    return made


def test_the_keyset_reader_returns_every_row_once_in_order(sessions):
    from stations.models import Transaction

    rows = list(
        selectors.keyset_iterate(Transaction.objects.all(), field="start_timestamp", batch=2)
    )
    assert [row.pk for row in rows] == [session.pk for session in sessions]


def test_a_csv_export_of_a_period_holds_its_sessions_oldest_first(sessions):
    client = client_for(make_operator(*EXPORTERS))
    start = (T0 + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    end = (T0 + timedelta(days=4)).isoformat().replace("+00:00", "Z")
    answer = client.get(f"/api/v1/exports/transactions.csv?start={start}&end={end}")
    assert answer.status_code == 200
    assert answer.streaming
    assert answer["Content-Type"].startswith("text/csv")
    assert "attachment" in answer["Content-Disposition"]
    table = list(csv.reader(io.StringIO(b"".join(answer.streaming_content).decode())))
    assert table[0] == list(selectors.TRANSACTION_CSV_HEADER)
    assert [int(row[0]) for row in table[1:]] == [s.pk for s in sessions[1:4]]
    assert table[1][4] == "'=TAG1"  # a formula is defused


def test_a_json_export_of_a_month_is_an_array_of_objects(sessions):
    client = client_for(make_operator(*EXPORTERS))
    month = timezone.localtime(Invoice.objects.first().issued_at)  # issued today
    answer = client.get(f"/api/v1/exports/invoices.json?month={month:%Y-%m}")
    assert answer.status_code == 200 and answer.streaming
    invoices = json.loads(b"".join(answer.streaming_content))
    assert [row["transaction"] for row in invoices] == [s.pk for s in sessions]
    assert invoices[0]["total"] == "1.00"
    assert set(invoices[0]) == set(selectors.INVOICE_CSV_HEADER)
    empty = client.get("/api/v1/exports/invoices.json?month=2001-01")
    assert json.loads(b"".join(empty.streaming_content)) == []


def test_under_asgi_the_export_streams_from_an_async_iterator(sessions):
    operator = make_operator(*EXPORTERS)

    async def fetch():
        client = AsyncClient()
        await client.aforce_login(operator)
        answer = await client.get("/api/v1/exports/transactions.csv")
        assert answer.status_code == 200, answer.content
        assert answer.is_async  # served slice by slice, not read into a list first
        return answer, [part async for part in answer.streaming_content]

    answer, parts = async_to_sync(fetch)()
    assert answer.status_code == 200
    lines = b"".join(parts).decode().splitlines()
    assert len(lines) == 1 + len(sessions)


def test_exports_are_for_operators_with_the_permission(sessions):
    driver = client_for(make_driver("d", "=TAG0"))
    assert driver.get("/api/v1/exports/transactions.csv").status_code == 403
    invoices_only = client_for(make_operator("billing.view_invoice"))
    assert invoices_only.get("/api/v1/exports/transactions.csv").status_code == 403
    assert invoices_only.get("/api/v1/exports/invoices.csv").status_code == 200


@pytest.mark.parametrize(
    "query, field",
    [
        ("month=2026-13", "month"),
        ("month=0000-01", "month"),
        ("month=2026-11&start=2026-11-01T00:00:00Z", "month"),
        ("start=2026-11-02T00:00:00Z&end=2026-11-01T00:00:00Z", "end"),
        ("start=yesterday", "start"),
        ("station=x", "station"),
    ],
)
def test_a_bad_period_is_a_400_naming_the_field(query, field):
    client = client_for(make_operator(*EXPORTERS))
    answer = client.get(f"/api/v1/exports/transactions.csv?{query}")
    assert answer.status_code == 400
    assert field in answer.json()

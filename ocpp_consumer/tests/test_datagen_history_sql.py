"""generate_network --distinct-sessions: PostgreSQL copies the drawn history further back."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count

from billing.models import Invoice, InvoiceLine, InvoiceSequence
from ocpp_consumer.datagen import network_generate
from ocpp_consumer.datagen.spec import SpecError
from ocpp_consumer.tests.test_datagen import SMALL
from stations.choices import SessionStatus
from stations.models import MeterValue, Transaction

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL makes the copies"),
]
DRAWN = 150
# 400 sessions from 150 drawn: two whole copies and a third cut short.
SPEC = replace(SMALL, sessions=400, distinct_sessions=DRAWN, meter_values=3, session_days=10)


def _ended():
    return Transaction.objects.exclude(status=SessionStatus.RUNNING).order_by("pk")


def test_copies_fill_the_history_each_a_session_span_further_back():
    counts = network_generate(spec=SPEC, out=lambda line: None)
    ended = list(_ended())
    assert counts["sessions"] == len(ended) == 400
    first = ended[0].pk
    assert [s.pk for s in ended] == list(range(first, first + 400))  # one contiguous range
    by_pk = {s.pk: s for s in ended}
    for copy in ended[DRAWN:]:
        k, drawn = divmod(copy.pk - first, DRAWN)
        source = by_pk[first + drawn]
        shift = timedelta(days=10 * k)
        assert copy.start_timestamp == source.start_timestamp - shift
        assert copy.stop_timestamp == source.stop_timestamp - shift
        assert copy.updated_at == source.updated_at - shift
        assert (copy.connector_id, copy.energy_wh, copy.status, copy.tag_id) == (
            source.connector_id,
            source.energy_wh,
            source.status,
            source.tag_id,
        )
        if source.ocpp_transaction_id:
            assert copy.ocpp_transaction_id == f"{source.ocpp_transaction_id}-{k}"
    # Sessions still follow each other on every connector.
    per_connector: dict[int, list] = {}
    for session in ended:
        per_connector.setdefault(session.connector_id, []).append(session)
    for sessions in per_connector.values():
        sessions.sort(key=lambda s: s.start_timestamp)
        for before, after in zip(sessions, sessions[1:], strict=False):
            assert before.stop_timestamp <= after.start_timestamp
    # Running sessions come after the ended ones.
    running = Transaction.objects.filter(status=SessionStatus.RUNNING)
    assert running.exists() and min(running.values_list("pk", flat=True)) > first + 399


def test_every_billable_copy_is_invoiced_with_a_number_of_its_own():
    counts = network_generate(spec=SPEC, out=lambda line: None)
    drawn_invoices = Invoice.objects.filter(transaction_id__lt=_ended()[0].pk + DRAWN)
    assert counts["invoices"] == Invoice.objects.count()
    assert counts["invoice_lines"] == InvoiceLine.objects.count()
    # Each copy of an invoiced session is invoiced, with the same lines and amounts.
    per_copy = Invoice.objects.count() / drawn_invoices.count()
    assert 2 < per_copy <= 3
    for invoice in Invoice.objects.exclude(pk__in=drawn_invoices).select_related("transaction")[
        :50
    ]:
        assert invoice.transaction.stop_timestamp < invoice.issued_at
        assert invoice.energy_wh == invoice.transaction.energy_wh
        assert invoice.lines.exists()
    lines = InvoiceLine.objects.values("invoice").annotate(n=Count("id"))
    assert lines.count() == Invoice.objects.count()
    # Numbers: unique (the constraint was rebuilt), per year of issue, and the sequence
    # goes on after the highest of each year.
    numbers = list(Invoice.objects.values_list("number", "issued_at"))
    assert len({n for n, _ in numbers}) == len(numbers)
    last: dict[int, int] = {}
    for number, issued in numbers:
        year, seq = number.split("-")
        assert int(year) == issued.year
        last[int(year)] = max(last.get(int(year), 0), int(seq))
    assert dict(InvoiceSequence.objects.values_list("year", "last_number")) == last
    # The application's next keys follow the generated ones.
    for model in (Transaction, Invoice, InvoiceLine):
        assert model.objects.order_by("-pk").first().pk < _next_id(model._meta.db_table)


def test_meter_values_are_built_for_the_copies_too():
    network_generate(spec=SPEC, out=lambda line: None)
    ran = _ended().exclude(status=SessionStatus.REFUSED)
    per_session = (
        MeterValue.objects.filter(transaction__in=ran).values("transaction").annotate(n=Count("id"))
    )
    assert {row["n"] for row in per_session} == {6}
    assert per_session.count() == ran.count()


def test_distinct_sessions_out_of_range_are_refused():
    with pytest.raises(SpecError, match="--distinct-sessions"):
        replace(SMALL, distinct_sessions=SMALL.sessions + 1).resolved()
    with pytest.raises(SpecError, match="--distinct-sessions"):
        replace(SMALL, distinct_sessions=0).resolved()


def _next_id(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [table])
        return cursor.fetchone()[0]

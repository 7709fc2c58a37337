"""generate_network at smoke-test size: a consistent network, the same for the same seed."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, F

from billing.models import Invoice, InvoiceLine, InvoiceSequence
from drivers.models import IdTag, User
from ocpp_consumer.admin_journal import KNOWN_ACTIONS
from ocpp_consumer.datagen import NetworkSpec, network_generate
from ocpp_consumer.datagen.generate import NetworkNotEmpty
from ocpp_consumer.datagen.spec import SpecError
from ocpp_consumer.models import Command, JournalEntry, MessageType
from stations.choices import SessionStatus
from stations.models import ChargePoint, Connector, MeterValue, Station, Transaction

# VACUUM (PostgreSQL) cannot run inside the test's transaction.
pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SMALL = NetworkSpec(
    charge_points=40,
    sessions=400,
    journal_rows=3001,
    meter_values=3,
    running=5,
    commands=60,
    id_tags=80,
    drivers=30,
    status_log_rows=100,
    seed=7,
    now=NOW,
)


def generate(spec: NetworkSpec = SMALL, **kwargs) -> dict:
    return network_generate(spec=spec, out=lambda line: None, **kwargs)


def test_a_small_network_is_complete_and_consistent():
    counts = generate(operator="op", operator_password="a-long-password-42")

    assert ChargePoint.objects.count() == counts["charge_points"] == 40
    assert Station.objects.count() == 10
    assert set(Station.objects.values_list("time_zone", flat=True)) > {"Europe/Berlin"}
    assert set(ChargePoint.objects.values_list("ocpp_version", flat=True)) == {"1.6", "2.0.1"}
    assert ChargePoint.objects.filter(is_online=False).exists()
    assert Connector.objects.filter(charge_point__isnull=True).count() == 0
    assert IdTag.objects.count() == 80
    assert User.objects.filter(driver__isnull=False).count() == 30

    ended = Transaction.objects.exclude(status=SessionStatus.RUNNING)
    assert ended.count() == counts["sessions"] == 400
    # A session's connector is its charge point's, and a connector runs one session at once.
    assert not Transaction.objects.exclude(connector__charge_point=F("charge_point")).exists()
    running = Transaction.objects.filter(status=SessionStatus.RUNNING)
    assert running.count() == counts["running"] == 5
    assert running.values("connector").distinct().count() == 5
    assert not ended.filter(stop_timestamp__lt=F("start_timestamp")).exists()
    assert ended.filter(status=SessionStatus.REFUSED).exists()

    # Meter values: 3 readings x (register + power) per session that ran, more when running.
    per_session = (
        MeterValue.objects.filter(transaction__in=ended.exclude(status=SessionStatus.REFUSED))
        .values("transaction")
        .annotate(n=Count("id"))
    )
    assert {row["n"] for row in per_session} == {6}
    assert MeterValue.objects.filter(transaction__in=running).exists()

    # Invoices only for billable sessions; totals add up.
    invoiced = Transaction.objects.filter(invoice__isnull=False)
    assert invoiced.count() == Invoice.objects.count() == counts["invoices"] > 300
    assert not invoiced.exclude(status=SessionStatus.ENDED).exists()
    assert not invoiced.filter(disputed_at__isnull=False, dispute_resolution="").exists()
    for invoice in Invoice.objects.prefetch_related("lines")[:20]:
        assert invoice.total == invoice.net_total + invoice.vat_total
        assert sum(line.amount for line in invoice.lines.all()) == invoice.net_total
    assert InvoiceLine.objects.count() == counts["invoice_lines"]
    numbers = set(Invoice.objects.values_list("number", flat=True))
    assert len(numbers) == Invoice.objects.count()
    assert InvoiceSequence.objects.exists()

    # The journal: as many rows as asked, known actions, each answer after its CALL.
    assert JournalEntry.objects.count() == counts["journal_rows"] == 3001
    actions = set(JournalEntry.objects.exclude(action="").values_list("action", flat=True))
    assert actions <= set(KNOWN_ACTIONS) and {"Heartbeat", "StatusNotification"} <= actions
    types = set(JournalEntry.objects.values_list("message_type", flat=True))
    assert {MessageType.CALL, MessageType.CALLRESULT} <= types
    latest = JournalEntry.objects.order_by("-timestamp").first().timestamp
    assert latest <= NOW and (NOW - latest).total_seconds() < 3600
    assert Command.objects.count() == 60

    operator = User.objects.get(username="op")
    assert operator.is_staff and not operator.is_superuser
    assert operator.check_password("a-long-password-42")
    assert operator.has_perm("ocpp_consumer.view_journalentry")
    assert operator.has_perm("stations.view_transaction")

    # The application's own next rows get fresh keys after the explicit ones.
    station = Station.objects.create(name="After the generator")
    assert station.pk > max(Station.objects.exclude(pk=station.pk).values_list("pk", flat=True))


def test_the_same_seed_gives_the_same_network():
    generate()
    first = list(Transaction.objects.order_by("pk").values_list("connector_id", "energy_wh"))
    first_journal = list(
        JournalEntry.objects.order_by("pk").values_list("unique_id", "action")[:50]
    )
    generate(force=True)
    again = list(Transaction.objects.order_by("pk").values_list("connector_id", "energy_wh"))
    # Keys restart after --force on PostgreSQL only: compare what does not depend on them.
    assert len(again) == len(first) == 405
    assert [e for _, e in again] == [e for _, e in first]
    assert list(JournalEntry.objects.order_by("pk").values_list("unique_id", "action")[:50]) == (
        first_journal
    )


def test_a_network_is_not_generated_over_another_without_force():
    generate()
    with pytest.raises(NetworkNotEmpty, match="--force"):
        generate()
    counts = generate(force=True)
    assert ChargePoint.objects.count() == counts["charge_points"]
    # The drivers of the earlier run were replaced, not added to.
    assert User.objects.filter(driver__isnull=False).count() == SMALL.drivers


def test_the_command_reports_sizes_and_refuses_bad_options():
    out = StringIO()
    call_command(
        "generate_network",
        "--charge-points=5",
        "--sessions=20",
        "--journal-rows=100",
        "--now=2026-11-30T12:00:00+00:00",
        stdout=out,
    )
    assert "charge points 5" in out.getvalue() and "journal rows 100" in out.getvalue()
    with pytest.raises(CommandError, match="--force"):
        call_command("generate_network", "--charge-points=5", stdout=StringIO())
    with pytest.raises(CommandError, match="--meter-values"):
        call_command("generate_network", "--meter-values=1", "--force", stdout=StringIO())
    with pytest.raises(CommandError, match="--now"):
        call_command("generate_network", "--now=yesterday", "--force", stdout=StringIO())


@pytest.mark.parametrize(
    ("change", "option"),
    [
        ({"charge_points": 0}, "--charge-points"),
        ({"sessions": -1}, "--sessions"),
        ({"ocpp201_percent": 101}, "--ocpp201-percent"),
        ({"drivers": 100, "id_tags": 10}, "--drivers"),
    ],
)
def test_out_of_range_sizes_name_their_option(change, option):
    from dataclasses import replace

    with pytest.raises(SpecError, match=option):
        replace(SMALL, **change).resolved()


def test_indexes_and_constraints_are_back_after_a_bulk_load():
    if connection.vendor != "postgresql":
        pytest.skip("indexes are dropped and rebuilt on PostgreSQL only")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'ocpp_consumer_journalentry'"
        )
        before = cursor.fetchone()[0]
        generate()
        cursor.execute(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'ocpp_consumer_journalentry'"
        )
        assert cursor.fetchone()[0] == before
        cursor.execute("SHOW session_replication_role")
        assert cursor.fetchone()[0] == "origin"

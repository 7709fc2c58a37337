"""generate_network --meter-values-sql: PostgreSQL builds the ended sessions' meter values."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Count, Max, Min

from ocpp_consumer.datagen import network_generate
from ocpp_consumer.tests.test_datagen import SMALL
from stations.choices import SessionStatus
from stations.models import MeterValue, Transaction

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL builds the rows")
def test_the_database_builds_the_same_number_of_readings_per_session():
    counts = network_generate(
        spec=replace(SMALL, meter_values=5, meter_values_sql=True), out=lambda line: None
    )
    ran = Transaction.objects.exclude(status__in=[SessionStatus.RUNNING, SessionStatus.REFUSED])
    per_session = (
        MeterValue.objects.filter(transaction__in=ran).values("transaction").annotate(n=Count("id"))
    )
    assert {row["n"] for row in per_session} == {10}
    assert per_session.count() == ran.count()
    assert not MeterValue.objects.filter(transaction__status=SessionStatus.REFUSED).exists()
    running = Transaction.objects.filter(status=SessionStatus.RUNNING)
    assert MeterValue.objects.filter(transaction__in=running).exists()
    assert counts["meter_values"] == MeterValue.objects.count()
    # The register goes from meterStart to meterStop, between start and stop.
    session = ran.filter(energy_wh__gt=0).first()
    register = MeterValue.objects.filter(
        transaction=session, measurand="Energy.Active.Import.Register"
    ).aggregate(low=Min("numeric_value"), high=Max("numeric_value"))
    assert register == {"low": Decimal(session.meter_start), "high": Decimal(session.meter_stop)}
    contexts = MeterValue.objects.filter(transaction=session).values_list("context", flat=True)
    assert set(contexts) == {"Transaction.Begin", "Sample.Periodic", "Transaction.End"}
    # New rows from the application follow the generated keys.
    assert MeterValue.objects.aggregate(Max("pk"))["pk__max"] < _next_id()


def _next_id() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('stations_metervalue', 'id'))")
        return cursor.fetchone()[0]

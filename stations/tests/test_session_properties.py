"""Whatever a charger sends, the session record keeps its invariants (property-based).

Sequences of StartTransaction, MeterValues and StopTransaction (repeated,
out of order, with meter resets, refused starts, unknown ids) are played
through the services the OCPP adapter calls. After every sequence: energy is
never negative, a connector runs at most one session, a tag is refused as
ConcurrentTx only while it really runs a session on another connector, and
no disputed session has an invoice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import Invoice, Tariff
from billing.services import invoice_create
from drivers.models import IdTag
from stations.choices import SessionStatus
from stations.models import ChargePoint, Transaction
from stations.services import metervalues_record, transaction_start, transaction_stop
from stations.services.transactions import CONCURRENT_TX
from stations.tests.samples import meter_sample

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
TAGS = ("TAG-A", "TAG-B", "BLOCKED")

start = st.tuples(
    st.just("start"),
    st.integers(1, 2),  # connector
    st.sampled_from(TAGS),
    st.integers(0, 200_000),  # meterStart
    st.integers(0, 600),  # minutes after T0
)
meter = st.tuples(
    st.just("meter"),
    st.integers(0, 5),  # which started session (by order), or an unknown one
    st.integers(0, 250_000),  # register reading (resets included: any value)
    st.integers(0, 600),
)
stop = st.tuples(
    st.just("stop"),
    st.integers(0, 5),
    st.integers(0, 250_000),
    st.integers(0, 600),
)
repeat = st.just(("repeat",))
steps = st.lists(st.one_of(start, meter, stop, repeat), min_size=1, max_size=14)


class Rollback(Exception):
    """Undo one example's writes so that the next starts from the same state."""


@pytest.fixture
def charge_point():
    IdTag.objects.create(id_tag="TAG-A")
    IdTag.objects.create(id_tag="TAG-B")
    IdTag.objects.create(id_tag="BLOCKED", status="Blocked")
    Tariff.objects.filter(is_default=True).update(price_per_kwh=Decimal("0.30"))
    charge_point = ChargePoint.objects.create(
        charge_point_id="CP-PROP", registration_status="Accepted"
    )
    ChargePoint.objects.filter(pk=charge_point.pk).update(created_at=T0 - timedelta(days=1))
    return charge_point


def play(charge_point, step, started, answers):
    kind = step[0]
    if kind == "start":
        _, connector_id, tag, meter_start, minute = step
        running_elsewhere = (
            Transaction.objects.filter(id_tag__iexact=tag, status=SessionStatus.RUNNING)
            .exclude(connector__connector_id=connector_id)
            .exists()
        )
        session, authorization = transaction_start(
            charge_point_pk=charge_point.pk,
            connector_id=connector_id,
            id_tag=tag,
            meter_start=meter_start,
            timestamp=T0 + timedelta(minutes=minute),
        )
        if session.pk not in started:
            # A retransmission gets the first answer again, whatever happened
            # since (a stop in between does not change what was answered).
            answers.append((authorization.status, running_elsewhere))
            started.append(session.pk)
    elif kind == "meter":
        _, which, value, minute = step
        transaction_id = started[which] if which < len(started) else 10_000 + which
        metervalues_record(
            charge_point_pk=charge_point.pk,
            connector_id=1,
            transaction_id=transaction_id,
            samples=[meter_sample(str(value), T0 + timedelta(minutes=minute))],
        )
    elif kind == "stop":
        _, which, meter_stop, minute = step
        transaction_id = started[which] if which < len(started) else 10_000 + which
        transaction_stop(
            charge_point_pk=charge_point.pk,
            transaction_id=transaction_id,
            meter_stop=meter_stop,
            timestamp=T0 + timedelta(minutes=minute),
        )


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=steps)
def test_the_record_keeps_its_invariants(charge_point, sequence):
    try:
        with transaction.atomic():
            started: list[int] = []
            answers: list[tuple[str, bool]] = []
            previous = None
            for step in sequence:
                if step[0] == "repeat":
                    if previous is None:
                        continue
                    step = previous  # a retransmission
                with transaction.atomic():  # each message is its own transaction
                    play(charge_point, step, started, answers)
                previous = step
            for pk in Transaction.objects.filter(stop_timestamp__isnull=False).values_list(
                "pk", flat=True
            ):
                invoice_create(transaction_id=pk)
            check_invariants(answers)
            raise Rollback
    except Rollback:
        pass


def check_invariants(answers):
    sessions = list(Transaction.objects.select_related("connector"))
    for session in sessions:
        assert session.energy_wh is None or session.energy_wh >= 0, session.meter_segments
        for segment in session.meter_segments:
            assert segment["to_wh"] >= segment["from_wh"]
    for connector_id in {s.connector_id for s in sessions}:
        running = [s for s in sessions if s.connector_id == connector_id and s.status == "running"]
        assert len(running) <= 1
    for status, running_elsewhere in answers:
        if status == CONCURRENT_TX:
            assert running_elsewhere  # only a session really running blocks a tag
    for session in sessions:
        if session.status in (SessionStatus.REFUSED, SessionStatus.RUNNING) or session.is_disputed:
            assert not Invoice.objects.filter(transaction=session).exists(), session.status
    blocked = [s for s in sessions if s.id_tag == "BLOCKED"]
    assert all(s.status != SessionStatus.RUNNING for s in blocked)

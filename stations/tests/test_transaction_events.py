"""Sessions told as numbered events (OCPP 2.0.1's TransactionEvent), in neutral terms."""

from datetime import UTC, datetime, timedelta

import pytest

from drivers.models import IdTag
from events.models import OutboxMessage
from stations.choices import EnergySource, SessionStatus, StopReason
from stations.models import ChargePoint, MeterValue, Transaction, TransactionEventLog
from stations.services import transaction_start
from stations.services.transaction_events import (
    SessionEvent,
    transaction_event_record,
    transaction_pk_for_charger_id,
    transaction_pk_for_remote_start,
    transaction_remote_start_link,
)
from stations.tests.samples import meter_sample

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def charge_point():
    IdTag.objects.create(id_tag="TAG-1")
    IdTag.objects.create(id_tag="BLOCKED", status="Blocked")
    charge_point = ChargePoint.objects.create(charge_point_id="CP-EVENTS")
    ChargePoint.objects.filter(pk=charge_point.pk).update(created_at=T0 - timedelta(days=30))
    return charge_point


def event(seq_no, event_type, *, minutes=0, wh=None, context="Sample.Periodic", **fields):
    """An event of transaction "TX-1" on EVSE 1, with one register reading if `wh` is given."""
    at = T0 + timedelta(minutes=minutes)
    given = dict(
        charger_transaction_id="TX-1",
        seq_no=seq_no,
        event_type=event_type,
        timestamp=at,
        trigger_reason="MeterValuePeriodic",
        connector_id=1,
    )
    if wh is not None:
        given["samples"] = (meter_sample(str(wh), at, context=context),)
    given.update(fields)
    return SessionEvent(**given)


def record(charge_point, session_event, start=transaction_start):
    return transaction_event_record(
        charge_point_pk=charge_point.pk, event=session_event, start=start
    )


def started(**fields):
    fields.setdefault("id_tag", "tag-1")  # another case of the same tag
    fields.setdefault("id_tag_type", "ISO14443")
    return event(0, "Started", wh=10_000, context="Transaction.Begin", **fields)


def ended(seq_no=3, *, minutes=60, wh=17_500, **fields):
    fields.setdefault("stop_reason", StopReason.EV_DISCONNECTED)
    fields.setdefault("stopped_reason_reported", "EVDisconnected")
    return event(seq_no, "Ended", minutes=minutes, wh=wh, context="Transaction.End", **fields)


def test_started_updated_ended_make_one_ended_session_with_its_energy(charge_point):
    first = record(charge_point, started())
    assert first.authorization.status == "Accepted"
    assert first.transaction.status == SessionStatus.RUNNING
    record(charge_point, event(1, "Updated", minutes=15, wh=12_500, charging_state="Charging"))
    record(charge_point, event(2, "Updated", minutes=30, wh=15_000))
    last = record(charge_point, ended())

    session = Transaction.objects.get()
    assert last.transaction.pk == session.pk
    assert session.ocpp_transaction_id == "TX-1"
    assert session.connector.connector_id == 1
    assert session.id_tag == "tag-1" and session.tag.id_tag == "TAG-1"
    assert session.status == SessionStatus.ENDED
    assert (session.meter_start, session.meter_stop, session.energy_wh) == (10_000, 17_500, 7_500)
    assert session.stop_reason == StopReason.EV_DISCONNECTED
    assert session.start_timestamp == T0 and session.stop_timestamp == T0 + timedelta(hours=1)
    assert not session.is_disputed
    assert session.meter_values.count() == 4
    log = list(session.event_log.values_list("seq_no", "event_type", "charging_state"))
    assert log == [
        (0, "Started", ""),
        (1, "Updated", "Charging"),
        (2, "Updated", ""),
        (3, "Ended", ""),
    ]
    assert session.event_log.get(seq_no=3).stopped_reason == "EVDisconnected"
    kinds = list(OutboxMessage.objects.values_list("kind", flat=True))
    assert "session.ended" in kinds


def test_a_retransmitted_event_changes_nothing_and_gets_the_same_answer(charge_point):
    record(charge_point, started())
    IdTag.objects.filter(id_tag="TAG-1").update(status="Blocked")

    again = record(charge_point, started())

    assert again.retransmitted
    assert again.authorization.status == "Accepted"  # as answered the first time
    assert Transaction.objects.get().status == SessionStatus.RUNNING
    assert TransactionEventLog.objects.count() == 1
    assert MeterValue.objects.count() == 1


def test_events_out_of_order_correct_the_start(charge_point):
    # The Updated comes first: it begins the session with its own reading.
    record(charge_point, event(1, "Updated", minutes=15, wh=12_500, id_tag="TAG-1"))
    session = Transaction.objects.get()
    assert (session.meter_start, session.start_timestamp) == (12_500, T0 + timedelta(minutes=15))

    record(charge_point, started())
    session.refresh_from_db()
    assert (session.meter_start, session.start_timestamp) == (10_000, T0)

    record(charge_point, ended(seq_no=2))
    session.refresh_from_db()
    assert session.energy_wh == 7_500
    assert not session.is_disputed


def test_events_after_ended_are_stored_and_leave_the_energy_right(charge_point):
    record(charge_point, started())
    record(charge_point, ended())
    # Offline catch-up: the Updated events arrive after the Ended.
    record(charge_point, event(2, "Updated", minutes=30, wh=15_000, offline=True))
    record(charge_point, event(1, "Updated", minutes=15, wh=12_500, offline=True))

    session = Transaction.objects.get()
    assert session.status == SessionStatus.ENDED
    assert (session.energy_wh, session.stop_reason) == (7_500, StopReason.EV_DISCONNECTED)
    assert session.meter_values.count() == 4
    assert list(session.event_log.filter(offline=True).values_list("seq_no", flat=True)) == [1, 2]
    assert not session.is_disputed


def test_a_late_event_that_changes_an_ended_sessions_energy_disputes_it(charge_point):
    record(charge_point, started())
    record(charge_point, ended(wh=600))  # the meter restarted: the stop alone says nothing
    session = Transaction.objects.get()
    reported = session.energy_wh

    # A late reading shows the register at 16 kWh before its reset.
    record(charge_point, event(1, "Updated", minutes=30, wh=16_000, offline=True))

    session.refresh_from_db()
    assert session.energy_wh == reported  # figures of an ended session are never changed
    assert session.is_disputed
    assert "after the session ended" in session.dispute_reason


def test_a_session_begun_without_an_id_tag_waits_and_runs_once_authorized(charge_point):
    plugged = record(charge_point, event(0, "Started", wh=10_000, trigger_reason="CablePluggedIn"))
    assert plugged.authorization is None
    session = Transaction.objects.get()
    assert session.status == SessionStatus.REFUSED and session.start_auth_status == ""

    calls = []

    def start_and_note(**kwargs):
        calls.append(kwargs)
        return transaction_start(**kwargs)

    authorized = record(
        charge_point,
        event(1, "Updated", minutes=1, id_tag="TAG-1", trigger_reason="Authorized"),
        start=start_and_note,
    )

    assert authorized.authorization.status == "Accepted"
    session.refresh_from_db()
    assert session.status == SessionStatus.RUNNING
    assert (session.id_tag, session.start_auth_status) == ("TAG-1", "Accepted")
    # The start is repeated as a retransmission: a priced start fixes the prices then.
    assert calls == [
        dict(
            charge_point_pk=charge_point.pk,
            connector_id=1,
            id_tag="TAG-1",
            meter_start=10_000,
            timestamp=T0,
            reservation_id=None,
        )
    ]
    assert Transaction.objects.count() == 1
    record(charge_point, ended(seq_no=2))
    session.refresh_from_db()
    assert (session.status, session.energy_wh) == (SessionStatus.ENDED, 7_500)


def test_a_session_nobody_authorizes_is_never_running(charge_point):
    record(charge_point, event(0, "Started", wh=10_000))
    record(charge_point, ended(seq_no=1))

    session = Transaction.objects.get()
    assert session.status == SessionStatus.REFUSED
    assert session.stop_timestamp is not None


def test_a_refused_id_tag_makes_a_refused_session(charge_point):
    answer = record(charge_point, started(id_tag="BLOCKED"))
    assert answer.authorization.status == "Blocked"
    record(charge_point, ended(id_tag="BLOCKED"))

    session = Transaction.objects.get()
    assert (session.status, session.start_auth_status) == (SessionStatus.REFUSED, "Blocked")
    assert session.stop_id_tag == "BLOCKED"


def test_a_tag_running_elsewhere_is_concurrent_when_authorized_late(charge_point):
    record(charge_point, started(charger_transaction_id="TX-A", connector_id=2))
    record(charge_point, event(0, "Started", charger_transaction_id="TX-B"))

    late = record(charge_point, event(1, "Updated", charger_transaction_id="TX-B", id_tag="TAG-1"))

    assert late.authorization.status == "ConcurrentTx"
    assert Transaction.objects.get(ocpp_transaction_id="TX-B").status == SessionStatus.REFUSED


def test_no_authorization_tokens_never_name_a_tag(charge_point):
    answer = record(
        charge_point, started(id_tag="", id_tag_type="NoAuthorization", id_tag_usable=False)
    )
    assert answer.authorization.status == "Invalid"
    session = Transaction.objects.get()
    assert (session.status, session.id_tag) == (SessionStatus.REFUSED, "")


def test_an_ended_event_first_begins_and_ends_the_session(charge_point):
    begin = meter_sample("20000", T0, context="Transaction.Begin")
    end = meter_sample("26000", T0 + timedelta(hours=1), context="Transaction.End")
    record(
        charge_point,
        ended(seq_no=4, wh=None, id_tag="TAG-1", samples=(begin, end)),
    )

    session = Transaction.objects.get()
    assert session.status == SessionStatus.ENDED
    assert (session.meter_start, session.meter_stop, session.energy_wh) == (20_000, 26_000, 6_000)
    assert session.start_timestamp == T0
    assert session.energy_source == EnergySource.METER_STOP


@pytest.mark.secure_defaults
def test_a_charge_point_not_accepted_gets_no_session_running(charge_point):
    ChargePoint.objects.filter(pk=charge_point.pk).update(registration_status="Pending")
    answer = record(charge_point, started(id_tag="TAG-1"))
    assert answer.authorization.status == "Invalid" and answer.authorization.tag is None
    assert Transaction.objects.get().status == SessionStatus.REFUSED


def test_the_charger_transaction_id_and_remote_start_find_the_session(charge_point):
    record(charge_point, started(remote_start_id=None))
    session = Transaction.objects.get()
    assert (
        transaction_pk_for_charger_id(
            charge_point_pk=charge_point.pk, charger_transaction_id="TX-1"
        )
        == session.pk
    )
    assert (
        transaction_pk_for_charger_id(charge_point_pk=charge_point.pk, charger_transaction_id="x")
        is None
    )

    # Answered with the id of the session already running: the remote start led to it.
    assert transaction_remote_start_link(
        charge_point_pk=charge_point.pk, charger_transaction_id="TX-1", remote_start_id=77
    )
    assert (
        transaction_pk_for_remote_start(
            charge_point_pk=charge_point.pk, remote_start_id=77, since=session.created_at
        )
        == session.pk
    )


def test_remote_start_id_of_the_event_is_kept(charge_point):
    record(charge_point, started(remote_start_id=42, trigger_reason="RemoteStart"))
    assert Transaction.objects.get().remote_start_id == 42


def test_a_late_started_that_changes_the_start_of_an_ended_session_disputes_it(charge_point):
    record(charge_point, ended(seq_no=2, wh=26_000, id_tag="TAG-1"))  # the only reading
    session = Transaction.objects.get()
    assert (session.meter_start, session.energy_wh) == (26_000, 0)

    record(charge_point, event(0, "Started", wh=20_000, context="Transaction.Begin"))

    session.refresh_from_db()
    assert (session.meter_start, session.energy_wh) == (26_000, 0)  # as recorded at its end
    assert session.is_disputed
    assert "give 6000 Wh instead of the 0 Wh" in session.dispute_reason

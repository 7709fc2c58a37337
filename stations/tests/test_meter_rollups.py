"""Meter values at scale: roll-ups per session and interval, raw retention, charts from roll-ups."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api_support.testing import (
    T0,
    add_reading,
    client_for,
    make_charge_point,
    make_invoice,
    make_operator,
    make_session,
)
from billing.models import BillingFailure
from billing.selectors import transaction_register_readings, transaction_settled_q
from stations import selectors
from stations.choices import DisputeResolution, SessionStatus
from stations.models import MeterValue, MeterValueRollup, SessionMeterRollup, Transaction
from stations.services.meter_rollups import (
    interval_start,
    meter_rollups_sweep,
    meter_values_prune,
    session_rollup_write,
    sessions_rollup_write,
)
from stations.services.transactions import transaction_energy
from stations.tasks import prune_meter_values, rollup_meter_values

pytestmark = pytest.mark.django_db

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
FIFTEEN = 900
TRANSACTIONS = "/api/v1/transactions/"
VIEW = ("stations.view_transaction", "stations.view_metervalue")


@pytest.fixture
def charge_point():
    return make_charge_point("CP1", connectors={n: "Available" for n in range(1, 12)})


def _reading(session, value, *, seconds, measurand=ENERGY, unit="Wh", context="Sample.Periodic"):
    return MeterValue.objects.create(
        charge_point=session.charge_point,
        connector=session.connector,
        transaction=session,
        timestamp=session.start_timestamp + timedelta(seconds=seconds),
        value=str(value),
        numeric_value=Decimal(value),
        measurand=measurand,
        unit=unit,
        context=context,
        location="Outlet",
        format="Raw",
    )


def _charged_session(charge_point, *, connector_id=1, minutes=60, step=70, **fields):
    """An ended session with a start and stop reading, register and power every `step` s."""
    session = make_session(
        charge_point, "TAG", connector_id=connector_id, energy_wh=0, meter_start=10_000, **fields
    )
    register = 10_000
    _reading(session, register, seconds=0, context="Transaction.Begin")
    seconds = step
    while seconds < minutes * 60:
        register += 11 * (seconds % 7 + 1)  # an uneven draw
        _reading(session, register, seconds=seconds)
        _reading(session, 7000 + seconds % 500, seconds=seconds, measurand=POWER, unit="W")
        seconds += step
    _reading(session, register, seconds=minutes * 60, context="Transaction.End")
    session.meter_stop = register
    session.energy_wh = register - 10_000
    session.stop_timestamp = session.start_timestamp + timedelta(minutes=minutes)
    session.meter_segments = [{"from_wh": 10_000, "to_wh": register}]
    session.save()
    return session


def _raw_register(session):
    return list(
        MeterValue.objects.filter(transaction=session, measurand=ENERGY)
        .order_by("timestamp", "id")
        .values_list("timestamp", "numeric_value")
    )


# --- roll-up correctness --------------------------------------------------------


def test_rollup_holds_first_last_min_max_avg_and_count_of_each_interval(charge_point):
    session = _charged_session(charge_point)
    state = session_rollup_write(session=session, interval_seconds=FIFTEEN)
    raw = MeterValue.objects.filter(transaction=session).order_by("timestamp", "id")
    assert state.sample_count == raw.count()
    assert state.session_stopped_at == session.stop_timestamp
    for rollup in MeterValueRollup.objects.filter(transaction=session):
        start = rollup.interval_start
        values = [
            (mv.timestamp, mv.numeric_value)
            for mv in raw
            if mv.measurand == rollup.measurand
            and start <= mv.timestamp < start + timedelta(seconds=FIFTEEN)
        ]
        assert rollup.sample_count == len(values)
        assert (rollup.first_at, rollup.first_value) == values[0]
        assert (rollup.last_at, rollup.last_value) == values[-1]
        numbers = [value for _, value in values]
        assert rollup.min_value == min(numbers)
        assert rollup.max_value == max(numbers)
        assert rollup.avg_value == (sum(numbers) / len(numbers)).quantize(Decimal("0.000001"))


def test_energy_per_interval_from_rollups_equals_raw(charge_point):
    session = _charged_session(charge_point, minutes=95, step=45)
    session_rollup_write(session=session, interval_seconds=FIFTEEN)
    raw = _raw_register(session)
    rollups = list(
        MeterValueRollup.objects.filter(transaction=session, measurand=ENERGY).order_by(
            "interval_start"
        )
    )
    assert len(rollups) == 7  # 95 minutes from 10:00: seven quarter hours
    previous = Decimal(session.meter_start)
    for rollup in rollups:
        end = rollup.interval_start + timedelta(seconds=FIFTEEN)
        raw_last = [value for at, value in raw if at < end][-1]
        assert rollup.last_value - previous == raw_last - previous
        previous = rollup.last_value
    assert previous - session.meter_start == session.energy_wh


def test_interval_start_is_aligned_to_the_quarter_hour():
    at = T0.replace(minute=44, second=59)
    assert interval_start(at, seconds=FIFTEEN) == T0.replace(minute=30)
    assert interval_start(T0, seconds=FIFTEEN) == T0


def test_rolling_up_again_gives_the_same_rows_and_takes_in_late_samples(charge_point):
    session = _charged_session(charge_point, minutes=30)
    session_rollup_write(session=session, interval_seconds=FIFTEEN)
    first = list(MeterValueRollup.objects.values_list("interval_start", "measurand", "last_value"))
    session_rollup_write(session=session, interval_seconds=FIFTEEN)
    again = list(MeterValueRollup.objects.values_list("interval_start", "measurand", "last_value"))
    assert sorted(first) == sorted(again)
    _reading(session, 99_999, seconds=29 * 60 + 30)  # arrived late, after the end
    session_rollup_write(session=session, interval_seconds=FIFTEEN)
    last = MeterValueRollup.objects.get(
        transaction=session, measurand=ENERGY, interval_start=T0.replace(minute=15)
    )
    assert last.last_value == 99_999 or last.max_value == 99_999


def test_running_session_is_rolled_up_to_its_last_complete_interval_and_extended(charge_point):
    session = make_session(charge_point, "TAG", meter_start=10_000)
    for minute in range(0, 50, 5):
        add_reading(session, str(10_000 + minute * 100), minutes=minute)
    state = session_rollup_write(
        session=session, interval_seconds=FIFTEEN, now=T0 + timedelta(minutes=40)
    )
    assert state.rolled_up_until == T0 + timedelta(minutes=30)
    assert state.session_stopped_at is None
    assert MeterValueRollup.objects.filter(transaction=session).count() == 2
    state = session_rollup_write(
        session=session, interval_seconds=FIFTEEN, now=T0 + timedelta(minutes=50)
    )
    assert state.rolled_up_until == T0 + timedelta(minutes=45)
    assert state.sample_count == 9
    assert MeterValueRollup.objects.filter(transaction=session).count() == 3


def test_the_sweep_rolls_up_ended_and_long_running_sessions(charge_point):
    ended = _charged_session(charge_point, connector_id=1)
    running = make_session(charge_point, "TAG", connector_id=2, start=timezone.now())
    add_reading(running, "10500", minutes=-50)
    result = meter_rollups_sweep(
        interval_seconds=FIFTEEN,
        lookback=timedelta(days=2),
        running_after=timedelta(minutes=-60),  # every running session counts as long here
    )
    assert (result.ended, result.running) == (1, 1)
    assert SessionMeterRollup.objects.get(pk=ended.pk).session_stopped_at is not None
    assert SessionMeterRollup.objects.get(pk=running.pk).session_stopped_at is None
    again = meter_rollups_sweep(
        interval_seconds=FIFTEEN, lookback=timedelta(days=2), running_after=timedelta(hours=1)
    )
    assert (again.ended, again.running) == (0, 0)
    assert rollup_meter_values() == {"ended": 0, "running": 0}  # the beat task, wired


# --- retention -----------------------------------------------------------------


def _prune(now, *, retention_days=400, unlinked_days=None):
    return meter_values_prune(
        settled=transaction_settled_q(),
        retention=timedelta(days=retention_days),
        unlinked_retention=timedelta(days=unlinked_days) if unlinked_days else None,
        interval_seconds=FIFTEEN,
        batch_sessions=2,  # several batches
        now=now,
    )


def _rolled_up(*sessions):
    for session in sessions:
        session_rollup_write(session=session, interval_seconds=FIFTEEN)


def test_retention_deletes_only_samples_of_old_settled_sessions(charge_point):
    invoiced = _charged_session(charge_point, connector_id=1)
    make_invoice(invoiced)
    voided = _charged_session(
        charge_point,
        connector_id=2,
        disputed_at=T0,
        dispute_resolution=DisputeResolution.VOIDED,
    )
    disputed = _charged_session(charge_point, connector_id=3, disputed_at=T0)
    unbilled = _charged_session(charge_point, connector_id=4)
    failing = _charged_session(charge_point, connector_id=5)
    make_invoice(failing)
    BillingFailure.objects.create(
        transaction=failing, error="x", first_failed_at=T0, last_failed_at=T0
    )
    reset = _charged_session(charge_point, connector_id=6)
    reset.meter_segments = [{"from_wh": 70_000, "to_wh": 76_000}, {"from_wh": 0, "to_wh": 500}]
    reset.save()
    make_invoice(reset)
    running = make_session(charge_point, "TAG", connector_id=7)
    add_reading(running, "10500", minutes=5)
    not_rolled_up = _charged_session(charge_point, connector_id=8)
    make_invoice(not_rolled_up)
    signed = _reading(invoiced, 10_000, seconds=1)
    MeterValue.objects.filter(pk=signed.pk).update(format="SignedData", value="ab12")
    _rolled_up(invoiced, voided, disputed, unbilled, failing, reset, running)
    before = {s.pk: MeterValue.objects.filter(transaction=s).count() for s in (invoiced, voided)}
    kept_sessions = (disputed, unbilled, failing, reset, running, not_rolled_up)
    kept = {s.pk: MeterValue.objects.filter(transaction=s).count() for s in kept_sessions}

    result = _prune(timezone.now() + timedelta(days=401))

    for session in (invoiced, voided):
        left = MeterValue.objects.filter(transaction=session)
        # The start and stop readings and the signed value stay raw.
        assert not left.filter(format="Raw", context="Sample.Periodic").exists()
        assert left.filter(context="Transaction.Begin").count() == 1
        assert left.filter(context="Transaction.End").count() == 1
        state = SessionMeterRollup.objects.get(pk=session.pk)
        assert state.raw_deleted_at is not None
        assert state.raw_deleted_count == before[session.pk] - left.count()
    assert MeterValue.objects.filter(pk=signed.pk).exists()
    for session in kept_sessions:
        assert MeterValue.objects.filter(transaction=session).count() == kept[session.pk]
    assert result.sessions == 2
    assert result.deleted == sum(before.values()) - 5  # 2 x begin and end, the signed one
    assert not SessionMeterRollup.objects.filter(
        pk__in=[s.pk for s in kept_sessions], raw_deleted_at__isnull=False
    ).exists()


def test_retention_keeps_recent_sessions(charge_point):
    session = _charged_session(charge_point)
    make_invoice(session)
    _rolled_up(session)
    count = MeterValue.objects.filter(transaction=session).count()
    # updated just now: within the retention, whatever the charger's stop time says
    result = _prune(timezone.now() + timedelta(days=399))
    assert result.sessions == 0
    assert MeterValue.objects.filter(transaction=session).count() == count


def test_retention_rechecks_a_session_disputed_after_the_scan(charge_point):
    session = _charged_session(charge_point)
    make_invoice(session)
    _rolled_up(session)
    count = MeterValue.objects.filter(transaction=session).count()
    never = Q(pk__in=[])  # what billing says when nothing is settled
    result = meter_values_prune(
        settled=never,
        retention=timedelta(days=400),
        unlinked_retention=None,
        interval_seconds=FIFTEEN,
        now=timezone.now() + timedelta(days=401),
    )
    assert (result.sessions, result.skipped) == (0, 1)
    assert MeterValue.objects.filter(transaction=session).count() == count


def test_samples_without_a_session_follow_their_own_retention(charge_point):
    session = make_session(charge_point, "TAG")
    old = add_reading(session, "1", minutes=1)
    recent = add_reading(session, "2", minutes=2)
    MeterValue.objects.filter(pk__in=[old.pk, recent.pk]).update(transaction=None)
    MeterValue.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=91))
    result = meter_values_prune(
        settled=transaction_settled_q(),
        retention=None,
        unlinked_retention=timedelta(days=90),
        interval_seconds=FIFTEEN,
    )
    assert result.unlinked_deleted == 1
    assert list(MeterValue.objects.values_list("pk", flat=True)) == [recent.pk]


def test_the_beat_task_prunes_with_the_settings(charge_point, settings):
    settings.METER_VALUES_RAW_RETENTION_DAYS = 1
    settings.METER_VALUES_UNLINKED_RETENTION_DAYS = 0
    session = _charged_session(charge_point)
    make_invoice(session)
    _rolled_up(session)
    Transaction.objects.filter(pk=session.pk).update(updated_at=T0)
    result = prune_meter_values()
    assert result["sessions"] == 1 and result["deleted"] > 0
    settings.METER_VALUES_RAW_RETENTION_DAYS = 0
    assert prune_meter_values()["sessions"] == 0  # 0: kept for ever


# --- reading pruned sessions ----------------------------------------------------------


def test_billing_readings_of_a_pruned_session_give_the_same_energy_per_quarter(charge_point):
    session = _charged_session(charge_point, minutes=95, step=45)
    make_invoice(session)
    _rolled_up(session)
    before = transaction_register_readings(transaction_ids=[session.pk])[session.pk]
    _prune(timezone.now() + timedelta(days=401))
    after = transaction_register_readings(transaction_ids=[session.pk])[session.pk]
    assert len(after) < len(before)
    assert after[0] == before[0] and after[-1] == before[-1]

    def at_quarter_ends(readings):
        ends = [T0 + timedelta(seconds=FIFTEEN * n) for n in range(1, 8)]
        return [[wh for at, wh in readings if at < end][-1] for end in ends]

    assert at_quarter_ends(after) == at_quarter_ends(before)


def _series(client, session, **params):
    response = client.get(f"{TRANSACTIONS}{session.pk}/timeseries/", params)
    assert response.status_code == 200, response.content
    return response.json()


def test_timeseries_answers_the_same_shape_from_rollups(charge_point):
    session = _charged_session(charge_point, minutes=60)
    make_invoice(session)
    _rolled_up(session)
    client = client_for(make_operator(*VIEW))
    raw = _series(client, session)
    raw_power = _series(client, session, measurand=POWER)
    _prune(timezone.now() + timedelta(days=401))
    rolled = _series(client, session)
    rolled_power = _series(client, session, measurand=POWER)
    assert raw["interval_seconds"] is None and rolled["interval_seconds"] == FIFTEEN
    assert set(rolled) == set(raw)
    assert set(rolled["points"][0]) == set(raw["points"][0])
    assert rolled["unit"] == raw["unit"] == "Wh"
    # The register's last reading of each quarter, as energy since the start.
    assert len(rolled["points"]) == 5  # four quarters and the stop reading's
    assert rolled["points"][-1] == raw["points"][-1]
    assert rolled["points"][-1]["value"] == session.energy_wh
    assert rolled_power["unit"] == raw_power["unit"] == "W"
    assert len(rolled_power["points"]) == 4
    listed = client.get(f"{TRANSACTIONS}{session.pk}/meter-values/").json()
    assert {row["context"] for row in listed["results"]} == {
        "Transaction.Begin",
        "Transaction.End",
    }


def test_a_long_session_is_given_from_rollups_then_raw(charge_point, monkeypatch):
    monkeypatch.setattr(selectors, "TIMESERIES_MAX_POINTS", 40)
    session = make_session(charge_point, "TAG", meter_start=10_000)
    for minute in range(0, 120, 2):
        add_reading(session, str(10_000 + minute * 50), minutes=minute)
    session_rollup_write(session=session, interval_seconds=FIFTEEN, now=T0 + timedelta(hours=1))
    body = _series(client_for(make_operator(*VIEW)), session)
    assert body["interval_seconds"] == FIFTEEN
    points = body["points"]
    assert len(points) == 4 + 30  # four quarters rolled up, the last hour's 30 raw samples
    assert points[0] == {"timestamp": "2026-11-26T10:14:00Z", "value": 700.0}
    assert points[-1] == {"timestamp": "2026-11-26T11:58:00Z", "value": 5900.0}
    stamps = [p["timestamp"] for p in points]
    assert stamps == sorted(stamps)


@pytest.mark.parametrize("pruned", [False, True])
def test_timeseries_and_meter_values_query_counts_do_not_grow_with_rows(charge_point, pruned):
    client = client_for(make_operator(*VIEW))
    counts = []
    for connector_id, minutes in ((1, 30), (2, 240)):
        session = _charged_session(charge_point, connector_id=connector_id, minutes=minutes)
        make_invoice(session)
        _rolled_up(session)
        if pruned:
            _prune(timezone.now() + timedelta(days=401))
        with CaptureQueriesContext(connection) as series:
            _series(client, session)
        with CaptureQueriesContext(connection) as listed:
            assert client.get(f"{TRANSACTIONS}{session.pk}/meter-values/").status_code == 200
        counts.append((len(series), len(listed)))
    assert counts[0] == counts[1]


def test_refused_and_empty_sessions_are_settled_without_an_invoice(charge_point):
    refused = _charged_session(charge_point, connector_id=1, status=SessionStatus.REFUSED)
    empty = _charged_session(charge_point, connector_id=2, minutes=0)
    assert empty.energy_wh == 0
    _rolled_up(refused, empty)
    result = _prune(timezone.now() + timedelta(days=401))
    assert result.sessions == 2


def test_a_late_look_at_a_pruned_sessions_energy_gives_the_same_figure(charge_point):
    session = _charged_session(charge_point, minutes=95, step=45)
    make_invoice(session)
    _rolled_up(session)
    before = transaction_energy(transaction=session)
    _prune(timezone.now() + timedelta(days=401))
    session.refresh_from_db()
    after = transaction_energy(transaction=session, with_rollups=True)
    assert (after.energy_wh, after.segments) == (before.energy_wh, before.segments)


def test_many_sessions_at_once_give_the_same_rollups_as_one_by_one(charge_point):
    first = _charged_session(charge_point, connector_id=1, minutes=50, step=40)
    second = _charged_session(charge_point, connector_id=2, minutes=20, step=65)
    _rolled_up(first, second)

    def rows():
        return sorted(
            MeterValueRollup.objects.values_list(
                "transaction_id", "measurand", "interval_start", "first_value", "last_value",
                "min_value", "max_value", "avg_value", "sample_count",
            )
        )  # fmt: skip

    one_by_one = rows()
    states = list(SessionMeterRollup.objects.order_by("pk").values_list("pk", "sample_count"))
    MeterValueRollup.objects.all().delete()
    SessionMeterRollup.objects.all().delete()
    assert sessions_rollup_write(sessions=[first, second], interval_seconds=FIFTEEN) == 2
    assert rows() == one_by_one
    assert list(SessionMeterRollup.objects.order_by("pk").values_list("pk", "sample_count")) == (
        states
    )
    # Again: replaced, not added to.
    assert sessions_rollup_write(sessions=[first, second], interval_seconds=FIFTEEN) == 2
    assert rows() == one_by_one


def test_the_command_backfills_history_and_prunes(charge_point, settings):
    settings.METER_VALUES_RAW_RETENTION_DAYS = 1
    old = _charged_session(charge_point, connector_id=1)
    make_invoice(old)
    Transaction.objects.filter(pk=old.pk).update(updated_at=T0)
    out = StringIO()
    call_command("meter_rollups", "--backfill", "--prune", stdout=out)
    assert "1 ended sessions rolled up" in out.getvalue()
    assert SessionMeterRollup.objects.get(pk=old.pk).raw_deleted_at is not None

"""The life of a session: refused, superseded, meter resets, plausibility, disputes."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from drivers.models import IdTag
from stations.choices import DisputeResolution, EnergySource, SessionStatus
from stations.models import ChargePoint, Connector, Transaction
from stations.services import (
    connector_status_update,
    metervalues_record,
    transaction_start,
    transaction_stop,
)
from stations.services.disputes import transaction_dispute_resolve
from stations.services.energy import session_energy
from stations.services.sweeps import transaction_flag_stale
from stations.services.transactions import CONCURRENT_TX, SUPERSEDED_REASON
from stations.tests.samples import meter_sample

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def charge_point():
    IdTag.objects.create(id_tag="TAG-1")
    IdTag.objects.create(id_tag="BLOCKED", status="Blocked")
    charge_point = ChargePoint.objects.create(charge_point_id="CP-LIFE")
    # Registered well before the sessions of these tests.
    ChargePoint.objects.filter(pk=charge_point.pk).update(created_at=T0 - timedelta(days=30))
    return charge_point


def start(charge_point, *, connector_id=1, id_tag="TAG-1", meter_start=1000, at=T0):
    session, authorization = transaction_start(
        charge_point_pk=charge_point.pk,
        connector_id=connector_id,
        id_tag=id_tag,
        meter_start=meter_start,
        timestamp=at,
    )
    return session, authorization.status


def stop(charge_point, session, *, meter_stop, at=T0 + timedelta(hours=1), **kwargs):
    transaction_stop(
        charge_point_pk=charge_point.pk,
        transaction_id=session.pk,
        meter_stop=meter_stop,
        timestamp=at,
        **kwargs,
    )
    return Transaction.objects.get(pk=session.pk)


def readings(charge_point, session, *values_and_minutes):
    metervalues_record(
        charge_point_pk=charge_point.pk,
        connector_id=session.connector.connector_id,
        transaction_id=session.pk,
        samples=[
            meter_sample(str(value), T0 + timedelta(minutes=minute))
            for value, minute in values_and_minutes
        ],
    )


# Refused starts


def test_a_refused_start_is_kept_but_never_runs_nor_blocks_the_tag(charge_point):
    refused, status = start(charge_point, id_tag="BLOCKED")
    assert status == "Blocked"
    refused = Transaction.objects.get(pk=refused.pk)
    assert refused.status == SessionStatus.REFUSED
    assert not refused.is_open
    # The charger never stops it; the driver's next start elsewhere is not ConcurrentTx.
    concurrent, _ = start(charge_point, connector_id=2, id_tag="TAG-1", at=T0)
    assert Transaction.objects.get(pk=concurrent.pk).status == SessionStatus.RUNNING
    _, status = start(charge_point, connector_id=1, id_tag="TAG-1", at=T0 + timedelta(minutes=5))
    assert status == CONCURRENT_TX  # TAG-1 really runs on connector 2


def test_a_concurrent_tx_start_does_not_lock_the_tag_out(charge_point):
    first, _ = start(charge_point, connector_id=1)
    refused, status = start(charge_point, connector_id=2, at=T0 + timedelta(minutes=1))
    assert status == CONCURRENT_TX
    assert Transaction.objects.get(pk=refused.pk).status == SessionStatus.REFUSED
    stop(charge_point, first, meter_stop=2000)
    _, status = start(charge_point, connector_id=3, at=T0 + timedelta(hours=2))
    assert status == "Accepted"  # the refused one on connector 2 blocks nothing


def test_a_stop_of_a_refused_start_is_recorded_and_disputed_when_it_charged(charge_point):
    refused, _ = start(charge_point, id_tag="BLOCKED", meter_start=1000)
    ended = stop(charge_point, refused, meter_stop=1000)
    assert (ended.status, ended.meter_stop, ended.energy_wh) == (SessionStatus.REFUSED, 1000, 0)
    assert not ended.is_disputed
    other, _ = start(charge_point, id_tag="BLOCKED", meter_start=5000, at=T0 + timedelta(hours=2))
    charged = stop(charge_point, other, meter_stop=9000, at=T0 + timedelta(hours=3))
    assert charged.status == SessionStatus.REFUSED
    assert charged.is_disputed
    assert "after the start was refused" in charged.dispute_reason


# A new start on a busy connector


def test_a_new_start_on_a_busy_connector_supersedes_the_running_session(charge_point):
    first, _ = start(charge_point, meter_start=1000)
    readings(charge_point, first, (1500, 10))
    second, status = start(charge_point, meter_start=4000, at=T0 + timedelta(minutes=40))
    assert status == "Accepted"
    first = Transaction.objects.get(pk=first.pk)
    assert first.status == SessionStatus.SUPERSEDED
    assert (first.stop_timestamp, first.meter_stop) == (T0 + timedelta(minutes=40), 4000)
    assert first.energy_wh == 3000
    assert first.is_disputed and SUPERSEDED_REASON in first.dispute_reason
    assert Transaction.objects.get(pk=second.pk).status == SessionStatus.RUNNING
    assert Transaction.objects.filter(status=SessionStatus.RUNNING).count() == 1


def test_the_lost_stop_arriving_late_is_recorded_on_the_superseded_session(charge_point):
    first, _ = start(charge_point, meter_start=1000)
    start(charge_point, meter_start=4000, at=T0 + timedelta(minutes=40))
    late = stop(charge_point, first, meter_stop=3900, at=T0 + timedelta(minutes=35))
    assert late.status == SessionStatus.SUPERSEDED
    assert (late.meter_stop, late.energy_wh, late.stop_reason) == (3900, 2900, "Local")
    assert "arrived after a newer session" in late.dispute_reason
    again = stop(charge_point, late, meter_stop=9999, at=T0 + timedelta(hours=9))
    assert again.meter_stop == 3900  # a repeated stop changes nothing


# Energy across meter resets


def test_a_meter_reset_during_a_session_starts_a_new_segment(charge_point):
    session, _ = start(charge_point, meter_start=70_000)
    readings(charge_point, session, (73_000, 10), (76_000, 20), (200, 30))
    ended = stop(charge_point, session, meter_stop=1500)
    assert ended.energy_wh == 7300  # 6,000 before the reset + 1,300 after
    assert ended.meter_segments == [
        {"from_wh": 70_000, "to_wh": 76_000},
        {"from_wh": 200, "to_wh": 1500},
    ]
    assert ended.energy_source == EnergySource.METER_VALUES
    assert not ended.is_disputed


def test_a_register_going_backwards_without_a_reset_is_left_out_and_disputed(charge_point):
    session, _ = start(charge_point, meter_start=70_000)
    readings(charge_point, session, (75_000, 10), (74_990, 20))
    ended = stop(charge_point, session, meter_stop=76_000)
    assert ended.energy_wh == 6000
    assert ended.is_disputed
    assert "went backwards from 75000 to 74990" in ended.dispute_reason


def test_meter_stop_below_meter_start_without_readings_is_disputed(charge_point):
    session, _ = start(charge_point, meter_start=10_000)
    ended = stop(charge_point, session, meter_stop=0)
    assert ended.energy_wh == 0
    assert ended.is_disputed
    assert "energy is unknown" in ended.dispute_reason


@pytest.mark.parametrize(
    "start_wh, samples, stop_wh, energy",
    [
        (1000, [], 8500, 7500),
        (10_000, [11_200, 12_345], 0, 2345),  # meterStop 0: the readings tell
        # A rollover: what passed between the last reading before it and the
        # first after it is unknown, and not billed.
        (999_900, [999_990], 40, 90),
        (5, [], 5, 0),
    ],
)
def test_session_energy_rules(start_wh, samples, stop_wh, energy):
    result = session_energy(
        meter_start=start_wh,
        meter_stop=stop_wh,
        readings=[(T0 + timedelta(minutes=i), value) for i, value in enumerate(samples)],
    )
    assert result.energy_wh == energy


# Plausibility


def test_more_energy_than_the_connector_can_deliver_is_disputed(charge_point, settings):
    session, _ = start(charge_point, meter_start=0)
    Connector.objects.filter(pk=session.connector_id).update(max_power_w=22_000)
    ended = stop(charge_point, session, meter_stop=500_000_000)  # 500 MWh in an hour
    assert ended.energy_wh == 500_000_000  # kept as reported
    assert ended.is_disputed
    assert "more than 22 kW can deliver" in ended.dispute_reason


def test_the_default_maximum_power_applies_without_a_connector_setting(charge_point, settings):
    settings.CONNECTOR_DEFAULT_MAX_POWER_W = 11_000
    session, _ = start(charge_point, meter_start=0)
    assert not stop(charge_point, session, meter_stop=12_000).is_disputed  # within 10 %
    other, _ = start(charge_point, meter_start=0, at=T0 + timedelta(hours=2))
    assert stop(charge_point, other, meter_stop=14_000, at=T0 + timedelta(hours=3)).is_disputed


def test_a_start_before_the_charge_point_was_registered_is_disputed(charge_point):
    session, status = start(charge_point, at=datetime(2000, 1, 1, tzinfo=UTC))
    assert status == "Accepted"
    session = Transaction.objects.get(pk=session.pk)
    assert session.is_disputed
    assert "before the charge point was registered" in session.dispute_reason


def test_timestamps_far_in_the_future_are_disputed(charge_point):
    future = timezone.now() + timedelta(days=2)
    session, _ = start(charge_point, at=future)
    assert Transaction.objects.get(pk=session.pk).is_disputed
    ok, _ = start(charge_point, connector_id=2, at=T0)
    ended = stop(charge_point, ok, meter_stop=2000, at=timezone.now() + timedelta(days=3))
    assert "in the future of its receipt" in ended.dispute_reason


def test_out_of_range_readings_end_the_session_disputed_never_overflowing(charge_point):
    session, _ = start(charge_point, meter_start=-5)
    ended = stop(charge_point, session, meter_stop=2**63 - 1)
    assert ended.stop_timestamp is not None
    assert ended.energy_wh == 2**63 - 1  # the column's largest value, not an overflow
    assert ended.is_disputed
    assert "Negative meter reading at start" in ended.dispute_reason


# Disputes: an operator decides


def test_an_operator_accepts_corrects_or_voids_a_disputed_session(charge_point, admin_user):
    session, _ = start(charge_point, meter_start=0)
    Connector.objects.filter(pk=session.connector_id).update(max_power_w=7_000)
    ended = stop(charge_point, session, meter_stop=50_000)
    assert ended.is_disputed
    with pytest.raises(ValidationError):
        transaction_dispute_resolve(
            transaction_pk=ended.pk, resolution=DisputeResolution.CORRECTED, resolved_by_id=None
        )
    corrected = transaction_dispute_resolve(
        transaction_pk=ended.pk,
        resolution=DisputeResolution.CORRECTED,
        resolved_by_id=admin_user.pk,
        note="Meter read on site: 5 kWh",
        energy_wh=5000,
    )
    assert (corrected.energy_wh, corrected.energy_wh_reported) == (5000, 50_000)
    assert not corrected.is_disputed
    assert corrected.dispute_resolved_by == admin_user
    assert corrected.dispute_note == "Meter read on site: 5 kWh"
    with pytest.raises(ValidationError):  # decided once
        transaction_dispute_resolve(
            transaction_pk=ended.pk, resolution=DisputeResolution.VOIDED, resolved_by_id=None
        )


def test_a_running_session_cannot_be_decided_yet(charge_point):
    session, _ = start(charge_point, at=datetime(2000, 1, 1, tzinfo=UTC))
    with pytest.raises(ValidationError, match="still running"):
        transaction_dispute_resolve(
            transaction_pk=session.pk, resolution=DisputeResolution.ACCEPTED, resolved_by_id=None
        )


# Staleness


def test_staleness_is_measured_by_the_sessions_own_messages(charge_point):
    session, _ = start(charge_point)
    Transaction.objects.filter(pk=session.pk).update(created_at=T0)
    later = T0 + timedelta(hours=30)
    # The connector keeps reporting "Charging", but the session sends nothing.
    connector_status_update(
        charge_point_pk=charge_point.pk, connector_id=1, status="Charging", error_code="NoError"
    )
    assert transaction_flag_stale(now=later, hours=24) == (1, 0)
    refused, _ = start(charge_point, connector_id=2, id_tag="BLOCKED")
    Transaction.objects.filter(pk=refused.pk).update(created_at=T0)
    assert transaction_flag_stale(now=later + timedelta(hours=1), hours=24) == (0, 0)

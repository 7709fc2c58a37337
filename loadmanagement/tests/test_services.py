"""Recomputing a site: what is stored, journalled and counted, on real PostgreSQL."""

from datetime import timedelta

import pytest
from django.utils import timezone

from api_support.testing import add_reading, make_charge_point, make_driver, make_session
from billing.models import TagGroup
from drivers.models import IdTag
from events.kinds import EventKind
from events.subscribers import Event
from loadmanagement import services
from loadmanagement.engine import Reason
from loadmanagement.models import (
    AllocationDecision,
    ChargerFallback,
    ChargingPriority,
    SendState,
    SessionAllocation,
)
from loadmanagement.subscribers import recompute_site
from stations.choices import RegistrationStatus, SessionStatus
from stations.models import Station

pytestmark = pytest.mark.django_db

KW11 = 11_040  # 16 A on three phases at 230 V


@pytest.fixture(autouse=True)
def _no_start_reserve(settings):
    """The sharing itself; the room kept for starting sessions has its own test."""
    settings.LOADMGMT_START_RESERVE = 0


@pytest.fixture
def site():
    """A station with two accepted charge points of two 11 kW connectors each."""
    station = Station.objects.create(name="Depot")
    for name in ("LM-1", "LM-2"):
        cp = make_charge_point(
            name, station=station, is_online=True, connectors={1: "Charging", 2: "Charging"}
        )
        cp.registration_status = RegistrationStatus.ACCEPTED
        cp.save()
        cp.connectors.update(max_power_w=KW11)
    return station


def start(station, cp_name, connector, tag, minutes=0):
    cp = station.charge_points.get(charge_point_id=cp_name)
    return make_session(
        cp,
        tag,
        connector_id=connector,
        start=timezone.now() - timedelta(hours=1) + timedelta(minutes=minutes),
    )


def rows():
    return {row.transaction_id: row for row in SessionAllocation.objects.all()}


def test_a_limit_is_shared_equally_and_journalled(site):
    sessions = [
        start(site, "LM-1", 1, "A", 0),
        start(site, "LM-1", 2, "B", 1),
        start(site, "LM-2", 1, "C", 2),
    ]
    services.site_limit_set(station_id=site.pk, grid_limit_w=20_000, safety_margin_percent=0)

    allocation = rows()
    assert sum(row.allocated_w for row in allocation.values()) <= 20_000
    shares = {allocation[s.pk].allocated_w for s in sessions}
    assert len(shares) == 1 and 6_000 <= shares.pop() <= 6_667
    assert all(row.state == SendState.PENDING for row in allocation.values())
    decision = AllocationDecision.objects.get()
    assert decision.trigger == services.Trigger.LIMIT_CHANGED
    assert decision.capacity_w == 20_000
    assert decision.summary.startswith("3 charging, 0 waiting")
    # Each accepted charger keeps a fallback: the limit over its 4 connectors.
    assert set(ChargerFallback.objects.values_list("limit_w", flat=True)) == {5_000}


def test_sessions_beyond_the_minimum_wait_in_start_order(site):
    first, second, third = (
        start(site, "LM-1", 1, "A", 0),
        start(site, "LM-1", 2, "B", 1),
        start(site, "LM-2", 1, "C", 2),
    )
    # 10 kW less 5 %: two minima of 4.14 kW fit, the third waits.
    services.site_limit_set(station_id=site.pk, grid_limit_w=10_000)
    allocation = rows()
    assert allocation[third.pk].reason == Reason.WAITING and allocation[third.pk].allocated_w == 0
    assert allocation[first.pk].allocated_w >= 4_140 and allocation[second.pk].allocated_w >= 4_140
    # The first ends: the waiting one is admitted.
    first.status = SessionStatus.ENDED
    first.save()
    services.site_recompute(station_id=site.pk, trigger=services.Trigger.SESSION_ENDED)
    allocation = rows()
    assert first.pk not in allocation
    assert allocation[third.pk].reason != Reason.WAITING


def test_a_priority_group_fills_first(site):
    make_driver("fleet", "FLEET1")
    group = TagGroup.objects.create(name="Fleet")
    group.id_tags.add(IdTag.objects.get(id_tag="FLEET1"))
    services.site_limit_set(station_id=site.pk, grid_limit_w=20_000, safety_margin_percent=0)
    ChargingPriority.objects.create(site=site.site_limit, tag_group=group, priority=5)
    public = start(site, "LM-1", 1, "PUBLIC", 0)
    fleet = start(site, "LM-1", 2, "FLEET1", 5)
    services.site_recompute(station_id=site.pk, trigger=services.Trigger.SESSION_STARTED)
    allocation = rows()
    assert allocation[fleet.pk].priority == 5
    assert allocation[fleet.pk].allocated_w == KW11
    # The public session gets the rest, 8.96 kW: 12.9 A per phase, rounded down.
    assert allocation[public.pk].allocated_w == 8_901


def test_measured_draw_frees_headroom_and_a_refusing_charger_counts_at_full_power(site):
    full = start(site, "LM-1", 1, "A", 0)
    other = start(site, "LM-2", 1, "B", 1)
    services.site_limit_set(station_id=site.pk, grid_limit_w=12_000, safety_margin_percent=0)
    SessionAllocation.objects.update(state=SendState.ACCEPTED, sent_at=timezone.now())
    # The first car draws 1.2 kW of its 6 kW: it is held near that, the other gets the rest.
    reading = add_reading(full, "1200", minutes=0, measurand="Power.Active.Import", unit="W")
    reading.timestamp = timezone.now()
    reading.save()
    services.site_recompute(station_id=site.pk, trigger=services.Trigger.SWEEP)
    allocation = rows()
    assert allocation[full.pk].measured_w == 1_200
    assert allocation[full.pk].reason == Reason.MEASURED
    assert allocation[other.pk].allocated_w > 6_000
    assert allocation[full.pk].allocated_w + allocation[other.pk].allocated_w <= 12_000

    # The other's charger rejects its profile: it may draw 11 kW, the first waits.
    services.allocation_outcome_record(
        transaction_id=other.pk,
        state=SendState.REJECTED,
        limit=None,
        unit="A",
        command_id=None,
        detail="answered Rejected",
        sent_at=timezone.now(),
    )
    services.site_recompute(station_id=site.pk, trigger=services.Trigger.CHARGER_ANSWERED)
    allocation = rows()
    assert allocation[other.pk].reason == Reason.UNCONTROLLED
    assert allocation[other.pk].allocated_w == KW11
    assert allocation[full.pk].reason == Reason.WAITING


def test_a_scheduled_limit_applies_while_in_force(site):
    start(site, "LM-1", 1, "A", 0)
    services.site_limit_set(station_id=site.pk, grid_limit_w=30_000, safety_margin_percent=0)
    now = timezone.now()
    services.limit_schedule_replace(
        station_id=site.pk,
        items=[services.ScheduleItem(now - timedelta(minutes=1), now + timedelta(hours=1), 5_000)],
        source="ems",
    )
    assert AllocationDecision.objects.latest("created_at").capacity_w == 5_000
    assert sum(row.allocated_w for row in rows().values()) <= 5_000


def test_the_subscriber_recomputes_on_session_events_and_reconnects_resend(site):
    services.site_limit_set(station_id=site.pk, grid_limit_w=22_000)
    session = start(site, "LM-2", 2, "A")
    event = Event(
        None,
        EventKind.SESSION_STARTED,
        {"charge_point": session.charge_point_id, "transaction": session.pk},
        timezone.now(),
    )
    recompute_site(event)
    assert rows()[session.pk].state == SendState.PENDING
    assert (
        AllocationDecision.objects.latest("created_at").trigger == services.Trigger.SESSION_STARTED
    )
    SessionAllocation.objects.update(state=SendState.ACCEPTED)
    ChargerFallback.objects.update(state=SendState.ACCEPTED)
    recompute_site(
        Event(
            None,
            EventKind.CHARGE_POINT_CONNECTED,
            {"charge_point": session.charge_point_id},
            timezone.now(),
        )
    )
    assert rows()[session.pk].state == SendState.PENDING
    assert ChargerFallback.objects.get(charge_point=session.charge_point).state == SendState.PENDING


def test_a_sweep_journals_only_changes_or_a_heartbeat(site):
    start(site, "LM-1", 1, "A")
    services.site_limit_set(station_id=site.pk, grid_limit_w=22_000)
    assert services.site_recompute(station_id=site.pk, trigger=services.Trigger.SWEEP) is None
    later = timezone.now() + services.DECISION_HEARTBEAT
    assert services.site_recompute(station_id=site.pk, trigger=services.Trigger.SWEEP, now=later)


def test_an_invalid_limit_is_refused_and_changes_nothing(site):
    from django.core.exceptions import ValidationError

    services.site_limit_set(station_id=site.pk, grid_limit_w=10_000)
    with pytest.raises(ValidationError) as caught:
        services.site_limit_set(station_id=site.pk, fallback_limit_w=20_000)
    assert "fallback_limit_w" in caught.value.message_dict
    site.site_limit.refresh_from_db()
    assert site.site_limit.fallback_limit_w is None


def test_room_is_kept_for_one_starting_session_while_connectors_are_free(site, settings):
    settings.LOADMGMT_START_RESERVE = 1
    first = start(site, "LM-1", 1, "A")
    services.site_limit_set(station_id=site.pk, grid_limit_w=20_000, safety_margin_percent=0)
    # Fallback per connector: 20 kW / 4 = 5 kW; one start's worth is kept free.
    assert rows()[first.pk].allocated_w == KW11  # 15 kW left, its charger's maximum
    decision = AllocationDecision.objects.latest("created_at")
    assert decision.capacity_w == 20_000
    assert "5000 W kept for a starting session" in decision.summary
    for cp, connector, tag in (("LM-1", 2, "B"), ("LM-2", 1, "C")):
        start(site, cp, connector, tag)
    services.site_recompute(station_id=site.pk, trigger=services.Trigger.SESSION_STARTED)
    # Three running, one free connector: 15 kW shared, and the fourth's 5 kW fits.
    assert sum(row.allocated_w for row in rows().values()) <= 15_000
    start(site, "LM-2", 2, "D")
    services.site_recompute(station_id=site.pk, trigger=services.Trigger.SESSION_STARTED)
    # All connectors busy: nothing to keep; the full 20 kW is shared.
    assert 15_000 < sum(row.allocated_w for row in rows().values()) <= 20_000


def test_the_sweep_resends_what_a_restart_left_unanswered_and_prunes_the_journal(site, settings):
    from loadmanagement.tasks import sweep_sites

    session = start(site, "LM-1", 1, "A")
    services.site_limit_set(station_id=site.pk, grid_limit_w=22_000)
    old = AllocationDecision.objects.create(site=site.site_limit, trigger="sweep")
    AllocationDecision.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=settings.LOADMGMT_DECISION_RETENTION_DAYS + 1)
    )
    # As a CSMS finds it after a restart: decided, never sent. The sweep sends
    # (eagerly here); the charger is not connected, so it counts at full power.
    assert rows()[session.pk].state == SendState.PENDING
    sweep_sites()
    row = rows()[session.pk]
    assert row.state == SendState.NO_ANSWER and row.sent_at is not None
    assert row.reason == Reason.UNCONTROLLED
    assert not AllocationDecision.objects.filter(pk=old.pk).exists()

"""The allocation engine's promises, for any site and any set of sessions (hypothesis)."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from loadmanagement.engine import (
    PHASES,
    Reason,
    SessionDemand,
    SiteCapacity,
    allocate,
    loaded_phases,
    with_offers,
)

T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)
VOLTAGE = 230.0


@st.composite
def sessions(draw):
    count = draw(st.integers(min_value=0, max_value=24))
    result = []
    for key in range(1, count + 1):
        phases = draw(st.sampled_from([1, 3]))
        max_a = draw(st.sampled_from([6, 10, 13, 16, 20, 32]))
        max_w = max_a * phases * VOLTAGE
        offered = draw(st.none() | st.floats(min_value=0, max_value=max_w))
        measured = draw(st.none() | st.floats(min_value=0, max_value=max_w))
        result.append(
            SessionDemand(
                key=key,
                started_at=T0 + timedelta(minutes=draw(st.integers(0, 600))),
                max_w=max_w,
                min_w=draw(st.sampled_from([0, 6, 8])) * phases * VOLTAGE,
                phases=phases,
                phase=draw(st.none() | st.sampled_from(PHASES)) if phases == 1 else None,
                priority=draw(st.sampled_from([0, 0, 0, 1, 5])),
                offered_w=offered,
                measured_w=measured,
                controlled=draw(st.booleans() | st.just(True)),
            )
        )
    return result


capacities = st.builds(
    SiteCapacity,
    power_w=st.none() | st.integers(min_value=0, max_value=200_000),
    phase_current_a=st.none() | st.integers(min_value=0, max_value=250),
    voltage_v=st.just(VOLTAGE),
)


def phase_currents(demands, allocation):
    per_phase = dict.fromkeys(PHASES, 0.0)
    for demand in demands:
        entry = allocation.by_key[demand.key]
        amps = entry.allocated_w / (demand.phases * VOLTAGE)
        for phase in loaded_phases(demand):
            per_phase[phase] += amps
    return per_phase


@settings(max_examples=400, deadline=None)
@given(capacity=capacities, demands=sessions())
def test_the_site_never_exceeds_its_limit_unless_uncontrolled_load_alone_does(capacity, demands):
    allocation = allocate(capacity=capacity, sessions=demands)
    total = sum(entry.allocated_w for entry in allocation.sessions)
    if allocation.over_limit:
        # What we cannot control is over the limit: everything we control waits.
        controlled = [d for d in demands if d.controlled]
        assert all(allocation.by_key[d.key].allocated_w == 0 for d in controlled)
        return
    if capacity.power_w is not None:
        assert total <= capacity.power_w
    if capacity.phase_current_a is not None:
        for amps in phase_currents(demands, allocation).values():
            assert amps <= capacity.phase_current_a + 1e-6


@settings(max_examples=400, deadline=None)
@given(capacity=capacities, demands=sessions())
def test_every_session_gets_its_minimum_or_waits_and_none_exceeds_its_charger(capacity, demands):
    allocation = allocate(capacity=capacity, sessions=demands)
    assert {entry.key for entry in allocation.sessions} == {d.key for d in demands}
    for demand in demands:
        entry = allocation.by_key[demand.key]
        assert entry.allocated_w <= demand.max_w
        assert entry.current_a * demand.phases * VOLTAGE <= demand.max_w + 1e-6
        if entry.reason == Reason.WAITING:
            assert entry.allocated_w == 0
        elif demand.controlled:
            assert (
                entry.allocated_w >= min(demand.min_w, demand.max_w) - demand.phases * VOLTAGE * 0.1
            )


@settings(max_examples=300, deadline=None)
@given(capacity=capacities, demands=sessions())
def test_waiting_sessions_wait_in_priority_then_start_order(capacity, demands):
    allocation = allocate(capacity=capacity, sessions=demands)
    order = sorted(
        (d for d in demands if d.controlled), key=lambda d: (-d.priority, d.started_at, d.key)
    )
    waiting = [allocation.by_key[d.key].reason == Reason.WAITING for d in order]
    # Once one waits, everyone behind it waits: nobody overtakes.
    assert waiting == sorted(waiting)


def demand(key, minutes=0, **kwargs):
    values = {"max_w": 11_040.0, "min_w": 4_140.0, "phases": 3}
    values.update(kwargs)
    return SessionDemand(key=key, started_at=T0 + timedelta(minutes=minutes), **values)


def test_equal_share_with_a_minimum_and_a_queue():
    capacity = SiteCapacity(power_w=22_000)
    allocation = allocate(capacity=capacity, sessions=[demand(k, k) for k in range(1, 7)])
    shares = [allocation.by_key[k].allocated_w for k in range(1, 7)]
    # Five minima (20.7 kW) fit, the sixth waits; the five share 22 kW equally.
    assert shares[5] == 0 and allocation.by_key[6].reason == Reason.WAITING
    assert len(set(shares[:5])) == 1
    assert 4_140 <= shares[0] <= 4_400
    assert sum(shares) <= 22_000


def test_headroom_left_by_a_full_battery_goes_to_the_others():
    capacity = SiteCapacity(power_w=22_000)
    full = demand(1, offered_w=11_000, measured_w=1_000)
    others = [demand(2, 1), demand(3, 2)]
    allocation = allocate(capacity=capacity, sessions=[full, *others])
    assert allocation.by_key[1].reason == Reason.MEASURED
    # Held at its minimum (its draw plus margin is below it).
    assert allocation.by_key[1].allocated_w == 4_140
    assert allocation.by_key[2].allocated_w == allocation.by_key[3].allocated_w
    assert allocation.by_key[2].allocated_w > 22_000 / 3


def test_an_uncontrolled_charger_counts_at_full_power_and_priority_comes_first():
    capacity = SiteCapacity(power_w=30_000)
    sessions = [
        demand(1, 0, controlled=False),
        demand(2, 1),
        demand(3, 2, priority=1),
    ]
    allocation = allocate(capacity=capacity, sessions=sessions)
    assert allocation.uncontrolled_w == 11_040
    assert allocation.by_key[1].reason == Reason.UNCONTROLLED
    # 18.96 kW left: the priority session fills to its charger's maximum first.
    assert allocation.by_key[3].allocated_w == 11_040
    # The other gets the rest, 7.92 kW, down to whole tenths of an ampere: 11.4 A.
    assert allocation.by_key[2].current_a == 11.4
    assert allocation.by_key[2].allocated_w == 7_866


def test_per_phase_limit_with_single_phase_cars_on_known_phases():
    capacity = SiteCapacity(power_w=None, phase_current_a=32)
    sessions = [
        demand(1, 0, phases=1, phase=1, max_w=7_360, min_w=1_380),
        demand(2, 1, phases=1, phase=1, max_w=7_360, min_w=1_380),
        demand(3, 2, phases=1, phase=2, max_w=7_360, min_w=1_380),
    ]
    allocation = allocate(capacity=capacity, sessions=sessions)
    # L1 carries two cars at 16 A; L2 one car at its charger's 32 A.
    assert allocation.by_key[1].current_a == 16.0
    assert allocation.by_key[2].current_a == 16.0
    assert allocation.by_key[3].current_a == 32.0


def test_a_vehicle_that_ramps_up_again_gets_its_share_back():
    capacity = SiteCapacity(power_w=22_000)
    sessions = [demand(1, 0, offered_w=11_000, measured_w=1_000), demand(2, 1)]
    first = allocate(capacity=capacity, sessions=sessions)
    # It now draws all it was given: no longer capped by its draw.
    ramped = with_offers(sessions, first)
    ramped[0] = ramped[0].__class__(
        **{**ramped[0].__dict__, "measured_w": first.by_key[1].allocated_w}
    )
    second = allocate(capacity=capacity, sessions=ramped)
    assert second.by_key[1].reason != Reason.MEASURED
    assert second.by_key[1].allocated_w == second.by_key[2].allocated_w

"""A charger's maximum profile (engine.charger_cap), for any site, chargers and sessions.

It must cap the charger as a whole at no more than the site gives, yet never
hold a session under the share `allocate` gave it: whatever the sessions,
their sum on the charger fits under the cap, in watts and on every phase.
"""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from loadmanagement.engine import (
    PHASES,
    ConnectorMeans,
    SessionDemand,
    SiteCapacity,
    allocate,
    charger_cap,
    loaded_phases,
)

T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)
VOLTAGE = 230.0


@st.composite
def chargers(draw):
    """Chargers of 1-4 connectors (one- or three-phase, wired to a known phase or not)."""
    result = []
    for _charger in range(draw(st.integers(min_value=1, max_value=6))):
        connectors = []
        for _connector in range(draw(st.integers(min_value=1, max_value=4))):
            phases = draw(st.sampled_from([1, 3]))
            max_a = draw(st.sampled_from([6, 10, 16, 32]))
            connectors.append(
                ConnectorMeans(
                    max_w=max_a * phases * VOLTAGE,
                    phases=phases,
                    phase=draw(st.none() | st.sampled_from(PHASES)) if phases == 1 else None,
                )
            )
        result.append(connectors)
    return result


capacities = st.builds(
    SiteCapacity,
    power_w=st.none() | st.integers(min_value=0, max_value=150_000),
    phase_current_a=st.none() | st.integers(min_value=0, max_value=200),
    voltage_v=st.just(VOLTAGE),
).filter(lambda capacity: not capacity.unlimited)


@settings(max_examples=400, deadline=None)
@given(capacity=capacities, site=chargers(), data=st.data())
def test_a_chargers_cap_holds_every_allocation_and_never_exceeds_the_site(capacity, site, data):
    demands, owner = [], {}
    for charger, connectors in enumerate(site):
        for connector in connectors:
            if not data.draw(st.booleans()):
                continue  # an idle connector
            key = len(demands) + 1
            owner[key] = charger
            demands.append(
                SessionDemand(
                    key=key,
                    started_at=T0 + timedelta(minutes=data.draw(st.integers(0, 300))),
                    max_w=connector.max_w,
                    min_w=6 * connector.phases * VOLTAGE,
                    phases=connector.phases,
                    phase=connector.phase,
                    priority=data.draw(st.sampled_from([0, 0, 1])),
                )
            )
    allocation = allocate(capacity=capacity, sessions=demands)
    for charger, connectors in enumerate(site):
        cap = charger_cap(capacity=capacity, connectors=connectors)
        assert cap is not None
        if capacity.power_w is not None:
            assert cap.limit_w <= capacity.power_w
        if capacity.phase_current_a is not None:
            assert cap.current_a <= capacity.phase_current_a
        assert cap.limit_w <= sum(connector.max_w for connector in connectors)
        own = [demand for demand in demands if owner[demand.key] == charger]
        assert sum(allocation.by_key[d.key].allocated_w for d in own) <= cap.limit_w
        if cap.phases == 1:  # one current for the charger's total
            total = sum(allocation.by_key[d.key].current_a for d in own)
            assert total <= cap.current_a + 1e-6
        for phase in PHASES:
            on_phase = sum(
                allocation.by_key[d.key].current_a for d in own if phase in loaded_phases(d)
            )
            assert on_phase <= cap.current_a + 1e-6


def test_a_charger_is_capped_at_the_site_or_at_its_own_maximum_whichever_is_lower():
    eleven = ConnectorMeans(max_w=11_040)
    assert charger_cap(capacity=SiteCapacity(power_w=8_000), connectors=[eleven]).limit_w == 8_000
    two = charger_cap(capacity=SiteCapacity(power_w=50_000), connectors=[eleven, eleven])
    assert (two.limit_w, two.current_a, two.phases) == (22_080, 32.0, 3)
    assert charger_cap(capacity=SiteCapacity(power_w=None), connectors=[eleven]) is None


def test_one_phase_connectors_on_known_phases_are_capped_per_phase():
    on_l1 = ConnectorMeans(max_w=7_360, phases=1, phase=1)
    on_l2 = ConnectorMeans(max_w=7_360, phases=1, phase=2)
    capacity = SiteCapacity(power_w=None, phase_current_a=20)
    cap = charger_cap(capacity=capacity, connectors=[on_l1, on_l2])
    # 20 A on each of two phases: 20 A per phase (each connector alone could take 32 A).
    assert (cap.limit_w, cap.current_a, cap.phases) == (9_200, 20.0, 3)
    # Both on L1 (or on unknown phases, counted on every one): 20 A in all, on one phase.
    same = charger_cap(capacity=capacity, connectors=[on_l1, on_l1])
    assert (same.limit_w, same.current_a, same.phases) == (4_600, 20.0, 1)

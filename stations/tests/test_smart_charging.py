"""Smart charging services with neutral values: the profile rules and what is recorded."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from stations.models import ChargingProfile, CompositeSchedule
from stations.services import chargepoint_create
from stations.services.smart_charging import (
    PART_CONNECTOR,
    PART_PERIODS,
    PART_PURPOSE,
    PART_RECURRENCY,
    PART_TRANSACTION,
    ChargingProfileSpec,
    SchedulePeriod,
    charging_profile_install,
    charging_profile_problems,
    charging_profiles_clear,
    composite_schedule_record,
)


def spec(profile_id=1, *, stack_level=0, purpose="TxDefaultProfile", starts=(0,), **fields):
    return ChargingProfileSpec(
        charging_profile_id=profile_id,
        stack_level=stack_level,
        purpose=purpose,
        kind=fields.pop("kind", "Absolute"),
        charging_rate_unit="A",
        periods=tuple(SchedulePeriod(start_period=s, limit=Decimal("16.0")) for s in starts),
        **fields,
    )


def parts(problems):
    return sorted(problem.part for problem in problems)


def test_a_valid_profile_has_no_problems():
    assert charging_profile_problems(profile=spec(starts=(0, 600)), connector_id=1) == []


@pytest.mark.parametrize(
    ("profile", "connector_id", "remote_start", "expected"),
    [
        (spec(purpose="ChargePointMaxProfile"), 1, False, [PART_CONNECTOR]),
        (spec(purpose="TxProfile"), 0, False, [PART_CONNECTOR, PART_TRANSACTION]),
        (spec(purpose="TxProfile", transaction_id=5), 1, False, []),
        (spec(kind="Recurring"), 1, False, [PART_RECURRENCY]),
        (spec(kind="Recurring", recurrency_kind="Daily"), 1, False, []),
        (spec(starts=(60,)), 1, False, [PART_PERIODS]),
        (spec(starts=(0, 0)), 1, False, [PART_PERIODS]),
        (spec(starts=()), 1, False, [PART_PERIODS]),
        (spec(), 1, True, [PART_PURPOSE]),
        # A remote start's TxProfile names no transaction yet.
        (spec(purpose="TxProfile"), None, True, []),
    ],
)
def test_profile_rules(profile, connector_id, remote_start, expected):
    problems = charging_profile_problems(
        profile=profile, connector_id=connector_id, remote_start=remote_start
    )
    assert parts(problems) == sorted(expected)
    assert all(problem.message for problem in problems)


@pytest.mark.django_db
def test_install_replaces_the_overridden_profile_and_clear_matches_every_criterion():
    charge_point = chargepoint_create(charge_point_id="CP-S")
    valid_from = datetime(2026, 1, 1, tzinfo=UTC)
    for profile_id, connector_id, stack_level in ((1, 1, 0), (2, 1, 0), (3, 2, 0), (4, 2, 1)):
        charging_profile_install(
            charge_point_pk=charge_point.pk,
            connector_id=connector_id,
            profile=spec(profile_id, stack_level=stack_level, valid_from=valid_from),
        )
    installed = ChargingProfile.objects.filter(cleared_at__isnull=True)
    assert sorted(installed.values_list("charging_profile_id", flat=True)) == [2, 3, 4]
    assert installed.get(charging_profile_id=2).valid_from == valid_from

    cleared = charging_profiles_clear(
        charge_point_pk=charge_point.pk, connector_id=2, purpose="TxDefaultProfile", stack_level=1
    )
    assert cleared == 1
    assert sorted(installed.values_list("charging_profile_id", flat=True)) == [2, 3]
    assert charging_profiles_clear(charge_point_pk=charge_point.pk) == 2


@pytest.mark.django_db
def test_composite_schedule_keeps_only_the_latest_per_connector():
    charge_point = chargepoint_create(charge_point_id="CP-S")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    composite_schedule_record(
        charge_point_pk=charge_point.pk, connector_id=1, schedule_start=start, schedule={"a": 1}
    )
    composite_schedule_record(
        charge_point_pk=charge_point.pk, connector_id=1, schedule_start=None, schedule=None
    )
    stored = CompositeSchedule.objects.get()
    assert (stored.schedule_start, stored.schedule) == (None, None)

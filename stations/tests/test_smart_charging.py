"""Smart charging services with neutral values: the profile rules and what is recorded."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from api_support.testing import client_for, make_charge_point, make_operator
from stations.models import ChargingProfile, CompositeSchedule, Connector, Transaction
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
    charging_profiles_end_with_transaction,
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


# --- TxProfiles end with their session -----------------------------------------

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
ENDED_AT = T0 + timedelta(hours=2)


def session_on(charge_point, connector_id: int, *, recorded_at: datetime) -> Transaction:
    connector, _ = Connector.objects.get_or_create(
        charge_point=charge_point, connector_id=connector_id
    )
    session = Transaction.objects.create(
        charge_point=charge_point,
        connector=connector,
        id_tag="TAG-1",
        meter_start=0,
        start_timestamp=recorded_at,
    )
    Transaction.objects.filter(pk=session.pk).update(created_at=recorded_at)
    return session


def installed(charge_point, profile_id, *, connector_id=1, at=T0, **fields) -> ChargingProfile:
    profile = charging_profile_install(
        charge_point_pk=charge_point.pk,
        connector_id=connector_id,
        profile=spec(profile_id, **fields),
    )
    ChargingProfile.objects.filter(pk=profile.pk).update(installed_at=at)
    return profile


def still_installed(charge_point) -> list[int]:
    profiles = ChargingProfile.objects.filter(charge_point=charge_point, cleared_at__isnull=True)
    return sorted(profiles.values_list("charging_profile_id", flat=True))


def end(session, at=ENDED_AT) -> int:
    return charging_profiles_end_with_transaction(
        charge_point_pk=session.charge_point_id, transaction_pk=session.pk, at=at
    )


@pytest.mark.django_db
def test_the_sessions_tx_profile_ends_with_it_and_nothing_else_does():
    charge_point = make_charge_point("CP-S")
    other_charge_point = make_charge_point("CP-T")
    session = session_on(charge_point, 1, recorded_at=T0)
    other_session = session_on(charge_point, 2, recorded_at=T0)
    installed(charge_point, 1, purpose="TxProfile", transaction_id=session.pk, stack_level=1)
    installed(charge_point, 2, purpose="TxProfile", transaction_id=other_session.pk, connector_id=2)
    installed(charge_point, 3, purpose="TxDefaultProfile")
    installed(charge_point, 4, purpose="ChargePointMaxProfile", connector_id=0)
    # The same transaction id on another charge point is another session.
    installed(other_charge_point, 5, purpose="TxProfile", transaction_id=session.pk)

    assert end(session) == 1

    assert still_installed(charge_point) == [2, 3, 4]
    assert still_installed(other_charge_point) == [5]
    ended = ChargingProfile.objects.get(charge_point=charge_point, charging_profile_id=1)
    assert ended.cleared_at == ENDED_AT
    assert ended.transaction_id == session.pk  # the row is kept, with its link
    assert end(session) == 0  # a repeated stop changes nothing


@pytest.mark.django_db
def test_a_charger_clock_behind_never_ends_a_profile_before_it_was_installed():
    charge_point = make_charge_point("CP-S")
    session = session_on(charge_point, 1, recorded_at=T0)
    installed(charge_point, 1, purpose="TxProfile", transaction_id=session.pk, at=T0)
    end(session, at=T0 - timedelta(minutes=5))
    assert ChargingProfile.objects.get().cleared_at == T0


@pytest.mark.django_db
def test_a_remote_starts_tx_profile_ends_with_the_session_it_started():
    charge_point = make_charge_point("CP-S")
    # Remote starts with a profile, before the sessions they led to.
    installed(charge_point, 1, purpose="TxProfile", connector_id=1, at=T0)
    installed(charge_point, 2, purpose="TxProfile", connector_id=0, at=T0)
    session = session_on(charge_point, 1, recorded_at=T0 + timedelta(minutes=1))
    # The next remote start's profile (another stack level: it replaces none).
    later = T0 + timedelta(minutes=5)
    installed(charge_point, 3, purpose="TxProfile", connector_id=1, stack_level=2, at=later)

    assert end(session) == 2
    assert still_installed(charge_point) == [3]


@pytest.mark.django_db
def test_a_remote_start_profile_belongs_to_the_first_session_after_it():
    charge_point = make_charge_point("CP-S")
    installed(charge_point, 1, purpose="TxProfile", connector_id=0, at=T0)
    first = session_on(charge_point, 2, recorded_at=T0 + timedelta(minutes=1))
    second = session_on(charge_point, 1, recorded_at=T0 + timedelta(minutes=2))

    assert end(second) == 0
    assert still_installed(charge_point) == [1]
    assert end(first) == 1


@pytest.mark.django_db
def test_listings_show_a_profile_ended_with_its_session_as_no_longer_installed(client):
    charge_point = make_charge_point("CP-S")
    session = session_on(charge_point, 1, recorded_at=T0)
    installed(charge_point, 7, purpose="TxProfile", transaction_id=session.pk)
    end(session)

    api = client_for(make_operator("stations.view_chargingprofile"))
    assert api.get("/api/v1/charging-profiles/", {"installed": "true"}).json()["count"] == 0
    [row] = api.get("/api/v1/charging-profiles/", {"installed": "false"}).json()["results"]
    assert (row["charging_profile_id"], row["transaction_id"]) == (7, session.pk)
    assert row["cleared_at"] == "2026-03-01T10:00:00Z"

    client.force_login(make_operator(superuser=True))
    listing = "/admin/stations/chargingprofile/"
    still_active = client.get(listing, {"cleared_at__isempty": "1"})
    assert still_active.status_code == 200
    assert still_active.context["cl"].result_count == 0
    assert client.get(listing, {"cleared_at__isempty": "0"}).context["cl"].result_count == 1

"""Smart charging: what a valid profile is, and what the charge point accepted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from orm_support.query_templates import QueryTemplate

from ..models import ChargingProfile, ChargingSchedulePeriod, CompositeSchedule, Transaction

CHARGE_POINT_MAX = "ChargePointMaxProfile"
TX_DEFAULT = "TxDefaultProfile"
TX_PROFILE = "TxProfile"
# OCPP 2.0.1's ChargingStationExternalConstraints: limits set outside the CSMS,
# which a station reports but a CSMS never sets (the 32-character column's name).
EXTERNAL_CONSTRAINTS = "ExternalConstraints"
# Who set a profile (OCPP 2.0.1 ChargingLimitSource): CSO is this CSMS.
SOURCE_CSO = "CSO"
RECURRING = "Recurring"


@dataclass(frozen=True)
class SchedulePeriod:
    start_period: int
    limit: Decimal
    number_phases: int | None = None


@dataclass(frozen=True)
class ChargingProfileSpec:
    """A charging profile with its schedule, as sent to a charge point."""

    charging_profile_id: int
    stack_level: int
    purpose: str
    kind: str
    charging_rate_unit: str
    periods: tuple[SchedulePeriod, ...]
    transaction_id: int | None = None
    recurrency_kind: str = ""
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    duration: int | None = None
    start_schedule: datetime | None = None
    min_charging_rate: Decimal | None = None
    # The charger's own transaction id, where it names sessions by a string
    # (OCPP 2.0.1) rather than by our Transaction pk (`transaction_id`).
    charger_transaction_id: str | None = None


@dataclass(frozen=True)
class ProfileProblem:
    """A broken rule; `part` names what is wrong (one of the PART_* names)."""

    part: str
    message: str


PART_CONNECTOR = "connector_id"
PART_PURPOSE = "purpose"
PART_TRANSACTION = "transaction_id"
PART_RECURRENCY = "recurrency_kind"
PART_PERIODS = "periods"


def charging_profile_problems(
    *, profile: ChargingProfileSpec, connector_id: int | None, remote_start: bool = False
) -> list[ProfileProblem]:
    """Rules of OCPP 1.6 §3.13 a message schema cannot express; [] when valid.

    `remote_start`: the profile comes with a remote start, which takes only
    a TxProfile and names no transaction yet.
    """
    if remote_start and profile.purpose != TX_PROFILE:
        return [ProfileProblem(PART_PURPOSE, "a remote start takes a TxProfile")]
    if profile.purpose == EXTERNAL_CONSTRAINTS:
        return [
            ProfileProblem(
                PART_PURPOSE,
                "external constraints are set outside the CSMS: a charging station "
                "reports them, a CSMS may not set them",
            )
        ]
    problems = []
    if profile.purpose == CHARGE_POINT_MAX and connector_id != 0:
        problems.append(
            ProfileProblem(PART_CONNECTOR, "a ChargePointMaxProfile applies to connector 0")
        )
    if profile.purpose == TX_PROFILE and not remote_start:
        if connector_id == 0:
            problems.append(ProfileProblem(PART_CONNECTOR, "a TxProfile needs a connector, not 0"))
        if profile.transaction_id is None and not profile.charger_transaction_id:
            problems.append(ProfileProblem(PART_TRANSACTION, "a TxProfile names its transaction"))
    if profile.kind == RECURRING and not profile.recurrency_kind:
        problems.append(ProfileProblem(PART_RECURRENCY, "required for a Recurring profile"))
    starts = [period.start_period for period in profile.periods]
    if not starts or starts[0] != 0:
        problems.append(ProfileProblem(PART_PERIODS, "must start at 0"))
    if any(later <= earlier for earlier, later in zip(starts, starts[1:], strict=False)):
        problems.append(ProfileProblem(PART_PERIODS, "start periods must increase"))
    return problems


@transaction.atomic
def charging_profile_install(
    *,
    charge_point_pk: int,
    connector_id: int,
    profile: ChargingProfileSpec,
    limit_source: str = SOURCE_CSO,
) -> ChargingProfile:
    """Record a profile the charge point accepted; it replaces the one it overrides.

    A profile naming the charger's transaction id is linked to that session
    (our Transaction pk), unknown sessions leave it unlinked.
    """
    now = timezone.now()
    ChargingProfile.objects.filter(
        Q(charging_profile_id=profile.charging_profile_id)
        | Q(connector_id=connector_id, stack_level=profile.stack_level, purpose=profile.purpose),
        charge_point_id=charge_point_pk,
        cleared_at__isnull=True,
    ).update(cleared_at=now)
    installed = ChargingProfile.objects.create(
        charge_point_id=charge_point_pk,
        connector_id=connector_id,
        charging_profile_id=profile.charging_profile_id,
        transaction_id=_transaction_pk(charge_point_pk=charge_point_pk, profile=profile),
        stack_level=profile.stack_level,
        purpose=profile.purpose,
        kind=profile.kind,
        recurrency_kind=profile.recurrency_kind,
        valid_from=profile.valid_from,
        valid_to=profile.valid_to,
        charging_rate_unit=profile.charging_rate_unit,
        duration=profile.duration,
        start_schedule=profile.start_schedule,
        min_charging_rate=profile.min_charging_rate,
        limit_source=limit_source,
    )
    ChargingSchedulePeriod.objects.bulk_create(
        ChargingSchedulePeriod(
            profile=installed,
            start_period=period.start_period,
            limit=period.limit,
            number_phases=period.number_phases,
        )
        for period in profile.periods
    )
    return installed


def _transaction_pk(*, charge_point_pk: int, profile: ChargingProfileSpec) -> int | None:
    if profile.transaction_id is not None or not profile.charger_transaction_id:
        return profile.transaction_id
    return (
        Transaction.objects.filter(
            charge_point_id=charge_point_pk, ocpp_transaction_id=profile.charger_transaction_id
        )
        .values_list("pk", flat=True)
        .first()
    )


def charging_profiles_reported(
    *,
    charge_point_pk: int,
    connector_id: int,
    limit_source: str,
    profiles: list[ChargingProfileSpec],
) -> int:
    """Reconcile what a station reports installed with our records; return how many were new.

    A reported profile we already hold (same id, connector, purpose and stack
    level, still installed) stays as it is; any other is recorded as
    installed, replacing what it overrides, with the source that set it.
    """
    added = 0
    for profile in profiles:
        held = ChargingProfile.objects.filter(
            charge_point_id=charge_point_pk,
            connector_id=connector_id,
            charging_profile_id=profile.charging_profile_id,
            purpose=profile.purpose,
            stack_level=profile.stack_level,
            cleared_at__isnull=True,
        )
        if held.exists():
            held.exclude(limit_source=limit_source).update(limit_source=limit_source)
            continue
        charging_profile_install(
            charge_point_pk=charge_point_pk,
            connector_id=connector_id,
            profile=profile,
            limit_source=limit_source,
        )
        added += 1
    return added


def charging_profiles_clear(
    *,
    charge_point_pk: int,
    charging_profile_id: int | None = None,
    connector_id: int | None = None,
    purpose: str | None = None,
    stack_level: int | None = None,
) -> int:
    """Mark cleared the installed profiles matching every criterion given; return how many."""
    criteria = {
        field: value
        for field, value in (
            ("charging_profile_id", charging_profile_id),
            ("connector_id", connector_id),
            ("purpose", purpose),
            ("stack_level", stack_level),
        )
        if value is not None
    }
    return ChargingProfile.objects.filter(
        charge_point_id=charge_point_pk, cleared_at__isnull=True, **criteria
    ).update(cleared_at=timezone.now())


def _tx_profile_installed(*, charge_point_pk: int) -> QuerySet[ChargingProfile]:
    return (
        ChargingProfile.objects.filter(
            charge_point_id=charge_point_pk, purpose=TX_PROFILE, cleared_at__isnull=True
        )
        .order_by()
        .only("pk")[:1]
    )


_TX_PROFILE_INSTALLED = QueryTemplate(_tx_profile_installed)


def charging_profiles_end_with_transaction(
    *, charge_point_pk: int, transaction_pk: int, at: datetime
) -> int:
    """Mark cleared the TxProfiles of a session that is over; return how many.

    A TxProfile lasts for one transaction: the charge point drops it when the
    transaction ends (OCPP 1.6 §3.13), so it must stop showing as installed.
    Two kinds belong to the session: those naming its transaction id, and
    the one that came with the remote start that led to it (no transaction
    id yet, on its connector or on connector 0 where the charger chose it),
    recognised as installed before the session and with no other session in
    between. The rows stay, cleared `at` (never earlier than installed).
    """
    # Most charge points have none: one plain query, compiled once, instead of
    # the matching below (which cost 9 % of the server's CPU in the durable benchmark).
    if not _TX_PROFILE_INSTALLED.rows(charge_point_pk=charge_point_pk):
        return 0
    session = (
        Transaction.objects.filter(pk=transaction_pk, charge_point_id=charge_point_pk)
        .values("connector__connector_id", "created_at")
        .first()
    )
    belongs_to_session = Q(transaction_id=transaction_pk)
    if session is not None:
        belongs_to_session |= _came_with_the_remote_start_of(
            charge_point_pk=charge_point_pk,
            connector_id=session["connector__connector_id"],
            session_recorded_at=session["created_at"],
        )
    return (
        ChargingProfile.objects.filter(
            belongs_to_session,
            charge_point_id=charge_point_pk,
            purpose=TX_PROFILE,
            cleared_at__isnull=True,
        )
        # Clamped: a charger's clock may put the end before our install time.
        .update(cleared_at=Greatest(Value(at), F("installed_at")))
    )


def _came_with_the_remote_start_of(
    *, charge_point_pk: int, connector_id: int, session_recorded_at: datetime
) -> Q:
    """A remote start's TxProfile applies to the next session it could start."""
    sessions_in_between = Transaction.objects.filter(
        charge_point_id=charge_point_pk,
        created_at__gte=OuterRef("installed_at"),
        created_at__lt=session_recorded_at,
    )
    on_this_connector = Q(connector_id=connector_id) & ~Exists(
        sessions_in_between.filter(connector__connector_id=connector_id)
    )
    on_any_connector = Q(connector_id=0) & ~Exists(sessions_in_between)
    return Q(transaction_id__isnull=True, installed_at__lte=session_recorded_at) & (
        on_this_connector | on_any_connector
    )


def composite_schedule_record(
    *,
    charge_point_pk: int,
    connector_id: int,
    schedule_start: datetime | None,
    schedule: dict | None,
) -> CompositeSchedule:
    """Keep a connector's latest composite schedule for operators (None: none given).

    `schedule` is kept verbatim as the charge point reported it: it is only shown.
    """
    stored, _ = CompositeSchedule.objects.update_or_create(
        charge_point_id=charge_point_pk,
        connector_id=connector_id,
        defaults={"schedule_start": schedule_start, "schedule": schedule},
    )
    return stored

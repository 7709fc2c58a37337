"""The life of a charging session: started (running or refused), ended or superseded.

- A start answered Accepted runs; a start answered with a refusal (Invalid,
  Blocked, Expired, ConcurrentTx) is kept as REFUSED: the charger got a
  transactionId and may still send a stop, but the session never runs,
  never blocks its tag and is never billed.
- A connector runs one session at a time: a new start on a connector that
  still runs one ends the earlier session as SUPERSEDED (the charger lost its
  stop), at the new start's time and meter reading, disputed for review.
- A stop ends the session with the energy of its register readings across
  meter resets (services/energy.py); implausible figures dispute it
  (services/plausibility.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from drivers.choices import AuthorizationStatus
from drivers.selectors import Authorization, idtag_authorize
from events.kinds import EventKind
from events.services import event_record
from orm_support.query_templates import QueryTemplate

from ..choices import RegistrationStatus, SessionStatus, StopReason
from ..models import Connector, MeterValue, OrphanStopTransaction, Transaction
from . import plausibility
from .charge_points import connector_pk
from .disputes import transaction_dispute_open
from .energy import SessionEnergy, session_energy
from .meter_rollups import register_readings_of
from .meter_values import ENERGY_REGISTER, MeterSample, meter_values_build, register_wh
from .registration import NOT_IN_SERVICE
from .reservations import reservation_use
from .smart_charging import charging_profiles_end_with_transaction

CONCURRENT_TX = "ConcurrentTx"
SUPERSEDED_REASON = "Superseded: a new session started on this connector before this one stopped."
REFUSED_WITH_ENERGY_REASON = "Energy was delivered after the start was refused."
LATE_STOP_REASON = "The charger's own stop arrived after a newer session had superseded this one."


# No savepoint when called inside a transaction (the group commit's batch):
# two round trips less per start, and a failure rolls the batch back (its
# writes are then retried one by one) all the same.
@transaction.atomic(savepoint=False)
def transaction_start(
    *,
    charge_point_pk: int,
    connector_id: int,
    id_tag: str,
    meter_start: int,
    timestamp: datetime,
    reservation_id: int | None = None,
    prices: Callable[[Transaction], dict | None] | None = None,
) -> tuple[Transaction, Authorization]:
    """Record a started session; a retransmitted start returns the same transaction.

    The charger has already started (perhaps offline), so the session is
    always recorded; the returned authorization tells it whether to go on.
    `prices` (billing's rule; stations knows no tariffs) gives the tariff
    snapshot of a new running session before it is written: the session is
    inserted with its prices, never without them for a moment.
    """
    connector_key = connector_pk(charge_point_pk=charge_point_pk, connector_id=connector_id)
    # Starts on one connector take turns: "is it busy?" and "now it is" must
    # not interleave with another start (two sockets, a retransmission). The
    # same query reads when the charge point was registered, and whether an
    # operator accepts it (one that is not accepted never runs a session).
    locked = _CONNECTOR_LOCKED.rows(connector_pk=connector_key)
    registered_at, registration = (
        (locked[0].registered_at, locked[0].registration) if locked else (None, None)
    )
    identity = dict(
        connector_id=connector_key,
        id_tag=id_tag,
        start_timestamp=timestamp,
        meter_start=meter_start,
    )
    # This start again (a retransmission), and the session the connector runs.
    known = _THIS_START_OR_RUNNING.rows(
        connector_pk=connector_key, id_tag=id_tag, start=timestamp, meter_start=meter_start
    )
    existing = next((t for t in known if _same_start(t, identity)), None)
    if existing is not None:
        return existing, _authorization_as_answered(existing)

    if registration == RegistrationStatus.ACCEPTED:
        authorization = _start_authorization(id_tag=id_tag, connector_pk=connector_key)
    else:
        authorization = NOT_IN_SERVICE
    accepted = authorization.status == AuthorizationStatus.ACCEPTED
    for earlier in known:
        _supersede(earlier, at=timestamp, meter_stop=meter_start)
    # No savepoint: the connector's row lock rules out a racing copy of this
    # start on PostgreSQL, and SQLite runs one writer at a time.
    started = Transaction(
        charge_point_id=charge_point_pk,
        tag=authorization.tag,
        status=SessionStatus.RUNNING if accepted else SessionStatus.REFUSED,
        start_auth_status=authorization.status,
        reservation_id=reservation_id,
        **identity,
    )
    if accepted and prices is not None:
        started.tariff_snapshot = prices(started)
    started.save(force_insert=True)
    problems = plausibility.start_problems(
        session=started, registered_at=registered_at, now=timezone.now()
    )
    if problems:
        transaction_dispute_open(session=started, reasons=problems)
        started.save(update_fields=["disputed_at", "dispute_reason", "updated_at"])
    event_record(
        kind=EventKind.SESSION_STARTED,
        payload={
            "charge_point": charge_point_pk,
            "transaction": started.pk,
            "status": started.status,
        },
    )
    if reservation_id is not None:
        reservation_use(
            charge_point_pk=charge_point_pk,
            reservation_id=reservation_id,
            transaction=started,
            authorization=authorization,
        )
    return started, authorization


def _connector_locked(*, connector_pk: int) -> QuerySet[Connector]:
    return (
        Connector.objects.select_for_update(of=("self",))
        .filter(pk=connector_pk)
        .annotate(
            registered_at=F("charge_point__created_at"),
            registration=F("charge_point__registration_status"),
        )
        .only("pk")
    )


def _this_start_or_running(
    *, connector_pk: int, id_tag: str, start: datetime, meter_start: int
) -> QuerySet[Transaction]:
    this_start = Q(id_tag=id_tag, start_timestamp=start, meter_start=meter_start)
    return Transaction.objects.select_for_update(of=("self",)).filter(
        this_start | Q(status=SessionStatus.RUNNING), connector_id=connector_pk
    )


def _running_elsewhere(*, id_tag: str, connector_pk: int) -> QuerySet[Transaction]:
    return (
        Transaction.objects.filter(id_tag__iexact=id_tag, status=SessionStatus.RUNNING)
        .exclude(connector_id=connector_pk)
        .order_by()
        .only("pk")[:1]
    )


# Every StartTransaction runs them: compiled once (orm_support.query_templates).
_CONNECTOR_LOCKED = QueryTemplate(_connector_locked)
_THIS_START_OR_RUNNING = QueryTemplate(_this_start_or_running)
_RUNNING_ELSEWHERE = QueryTemplate(_running_elsewhere)


def _same_start(session: Transaction, identity: dict) -> bool:
    return (
        session.id_tag == identity["id_tag"]
        and session.start_timestamp == identity["start_timestamp"]
        and session.meter_start == identity["meter_start"]
    )


def _start_authorization(*, id_tag: str, connector_pk: int) -> Authorization:
    """The tag's authorization; ConcurrentTx while it runs a session on another connector.

    Only a RUNNING session counts: a refused, ended or superseded one never
    blocks the tag. One on the same connector is a stop the charger lost: the
    new start supersedes it.
    """
    authorization = idtag_authorize(id_tag=id_tag)
    if authorization.status != AuthorizationStatus.ACCEPTED:
        return authorization
    elsewhere = _RUNNING_ELSEWHERE.rows(id_tag=id_tag, connector_pk=connector_pk)
    if not elsewhere:
        return authorization
    return Authorization(
        status=CONCURRENT_TX,
        expiry_date=authorization.expiry_date,
        parent_id_tag=authorization.parent_id_tag,
        tag=authorization.tag,
    )


def _authorization_as_answered(started: Transaction) -> Authorization:
    current = idtag_authorize(id_tag=started.id_tag)
    return Authorization(
        status=started.start_auth_status or current.status,
        expiry_date=current.expiry_date,
        parent_id_tag=current.parent_id_tag,
        tag=current.tag,
    )


def _supersede(session: Transaction, *, at: datetime, meter_stop: int) -> None:
    """End a session whose stop the charger lost, where the next one began."""
    session.status = SessionStatus.SUPERSEDED
    # The new start's reading ends it only if it is later than the start.
    problems = _close(session, meter_stop=meter_stop, timestamp=max(at, session.start_timestamp))
    session.stop_reason = ""  # not the charger's: a late real stop may still fill it
    transaction_dispute_open(session=session, reasons=[SUPERSEDED_REASON, *problems])
    session.save()
    _ended(session)


@transaction.atomic(savepoint=False)  # as transaction_start
def transaction_stop(
    *,
    charge_point_pk: int,
    transaction_id: int,
    meter_stop: int,
    timestamp: datetime,
    reason: str | None = None,
    id_tag: str | None = None,
    samples: Sequence[MeterSample] = (),
) -> tuple[Transaction | None, Authorization | None]:
    """End a session and compute its energy; an unknown id is kept as an orphan.

    The samples the charger sent with the stop count towards the energy. A
    repeated stop of an ended session changes nothing; the first real stop
    of a refused or superseded session is recorded on it.
    """
    authorization = idtag_authorize(id_tag=id_tag) if id_tag else None
    stopped = (
        Transaction.objects.select_for_update()
        .select_related("connector")
        .filter(pk=transaction_id, charge_point_id=charge_point_pk)
        .first()
    )
    if stopped is None:
        OrphanStopTransaction.objects.create(
            charge_point_id=charge_point_pk,
            transaction_id=transaction_id,
            id_tag=id_tag or "",
            meter_stop=meter_stop,
            timestamp=timestamp,
            reason=reason or StopReason.LOCAL,
            # Kept for the operator who reconciles the stop by hand.
            transaction_data=[sample.as_json() for sample in samples],
        )
        return None, authorization
    late_for_superseded = stopped.status == SessionStatus.SUPERSEDED and not stopped.stop_reason
    if stopped.stop_timestamp is not None and not late_for_superseded:
        return stopped, authorization

    if samples:
        MeterValue.objects.bulk_create(
            meter_values_build(
                charge_point_pk=charge_point_pk,
                connector_pk=stopped.connector_id,
                transaction_pk=stopped.pk,
                samples=samples,
            ),
            ignore_conflicts=True,
        )
    if stopped.status == SessionStatus.RUNNING:
        stopped.status = SessionStatus.ENDED
    reasons = _close(stopped, meter_stop=meter_stop, timestamp=timestamp)
    stopped.stop_reason = reason or StopReason.LOCAL
    stopped.stop_id_tag = id_tag or ""
    if stopped.status == SessionStatus.REFUSED and stopped.energy_wh:
        reasons.append(REFUSED_WITH_ENERGY_REASON)
    if late_for_superseded:
        reasons.append(LATE_STOP_REASON)
    transaction_dispute_open(session=stopped, reasons=reasons)
    stopped.save()
    if not late_for_superseded:
        _ended(stopped)
    return stopped, authorization


def _close(session: Transaction, *, meter_stop: int, timestamp: datetime) -> list[str]:
    """Set the stop reading, time and energy; return what makes the stop implausible."""
    session.meter_stop = meter_stop
    session.stop_timestamp = timestamp
    energy = transaction_energy(transaction=session)
    session.energy_wh, session.energy_source = energy.energy_wh, energy.source
    session.meter_segments = energy.segments
    return plausibility.stop_problems(
        session=session,
        energy=energy,
        power_w=plausibility.max_power_w(session.connector),
        now=timezone.now(),
    )


def _ended(session: Transaction) -> None:
    charging_profiles_end_with_transaction(
        charge_point_pk=session.charge_point_id,
        transaction_pk=session.pk,
        at=session.stop_timestamp,
    )
    event_record(
        kind=EventKind.SESSION_ENDED,
        payload={
            "charge_point": session.charge_point_id,
            "transaction": session.pk,
            "energy_wh": session.energy_wh,
            "status": session.status,
        },
    )


def _register_readings(*, transaction_pk: int) -> QuerySet[MeterValue]:
    return (
        MeterValue.objects.filter(
            transaction_id=transaction_pk,
            measurand=ENERGY_REGISTER,
            phase="",
            numeric_value__isnull=False,
        )
        .order_by("timestamp", "id")
        .only("pk", "timestamp", "numeric_value", "unit")
    )


# Every StopTransaction reads them: compiled once.
_REGISTER_READINGS = QueryTemplate(_register_readings)


def transaction_energy(*, transaction: Transaction, with_rollups: bool = False) -> SessionEnergy:
    """The session's energy from meterStart, its register readings and meterStop.

    `with_rollups`: also the readings that roll-ups keep of raw samples the
    retention sweep deleted (an ended session looked at again, long after).
    """
    if with_rollups:
        readings = register_readings_of(transaction_pks=[transaction.pk]).get(transaction.pk, [])
    else:
        rows = _REGISTER_READINGS.rows(transaction_pk=transaction.pk)
        readings = [
            (row.timestamp, wh)
            for row in rows
            if (wh := register_wh(row.numeric_value, row.unit)) is not None
        ]
    return session_energy(
        meter_start=transaction.meter_start,
        meter_stop=transaction.meter_stop,
        readings=readings,
    )

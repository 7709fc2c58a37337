"""Sessions a charger tells as numbered events: started, updated, ended (OCPP 2.0.1).

The session is the same Transaction a StartTransaction/StopTransaction pair
makes: started through `transaction_start` (authorization, refused starts,
superseding, plausibility; with prices fixed when the caller passes
billing's priced start), ended through `transaction_stop` (energy across
meter resets, disputes, the invoice through the outbox). What differs:

- The charger names the session (`charger_transaction_id`) and numbers its
  events (`seq_no`). The first event seen for a name begins the session,
  whichever it is (a lost Started, an Ended arriving first); an event whose
  number is already logged is a retransmission: it changes nothing and gets
  the answer it got the first time.
- Events may arrive late or out of order (a charger catching up after being
  offline). The start facts follow the earliest event: the meter start is
  the energy register reading of the lowest-numbered event that carried one,
  so a session begun by a later event is corrected when an earlier one
  arrives. An ended session's figures are never changed afterwards (it may
  be invoiced already): a late event that would change its energy disputes
  it, for an operator to decide.
- A session may begin before anyone is identified (the cable plugged in
  first): it waits, not running and not billed, until an event names an id
  tag, and is authorized then as at a start.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from drivers.choices import AuthorizationStatus
from drivers.selectors import Authorization, idtag_authorize
from events.kinds import EventKind
from events.services import event_record

from ..choices import SessionStatus, StopReason
from ..models import Connector, MeterValue, Transaction, TransactionEventLog, TransactionEventType
from .disputes import transaction_dispute_open
from .evse_status import evse_status_refresh
from .meter_values import ENERGY_REGISTER, MeterSample, meter_values_build, register_wh
from .registration import NOT_IN_SERVICE, chargepoint_in_service, idtag_authorize_at
from .transactions import (
    _start_authorization,
    transaction_energy,
    transaction_start,
    transaction_stop,
)

# Contexts that mark the reading taken as the session began or ended.
BEGIN_CONTEXT = "Transaction.Begin"
END_CONTEXT = "Transaction.End"
# The EVSE of a session whose first event named none (the charger should have).
UNKNOWN_EVSE = 0

StartFunction = Callable[..., tuple[Transaction, Authorization]]


class SessionEventConflict(Exception):
    """Another session of the charge point already has this session's start facts."""


@dataclass(frozen=True)
class SessionEvent:
    """One event of a session, in neutral terms (what a 2.0.1 TransactionEvent reports)."""

    charger_transaction_id: str
    seq_no: int
    event_type: str  # TransactionEventType
    timestamp: datetime
    trigger_reason: str
    # The EVSE (the domain Connector's connector_id); the first event names it.
    connector_id: int | None = None
    offline: bool = False
    # None: the event names no one. A token that can never be a tag (free
    # vend's "no authorization") is given with id_tag_usable False.
    id_tag: str | None = None
    id_tag_type: str = ""
    id_tag_usable: bool = True
    charging_state: str = ""
    stop_reason: str = ""  # a StopReason value (Ended)
    stopped_reason_reported: str = ""  # the charger's own word for it
    remote_start_id: int | None = None
    reservation_id: int | None = None
    samples: Sequence[MeterSample] = ()


@dataclass(frozen=True)
class SessionEventOutcome:
    transaction: Transaction
    # The answer to the event's id tag; None when the event named no one.
    authorization: Authorization | None
    retransmitted: bool = False


@transaction.atomic(savepoint=False)
def transaction_event_record(
    *, charge_point_pk: int, event: SessionEvent, start: StartFunction = transaction_start
) -> SessionEventOutcome:
    """Apply one event to its session (begun by it if new); a repeated event changes nothing.

    `start` is `transaction_start` or a function with its signature that
    also fixes the session's prices (billing's priced start); it is called to
    begin a session, and again, as a retransmission of that start, when a
    waiting session is authorized (so that its prices are fixed then).
    """
    session = _session_locked(
        charge_point_pk=charge_point_pk, charger_transaction_id=event.charger_transaction_id
    )
    readings = _register_readings(event.samples)
    answer: Authorization | None = None
    was_running = session is not None and session.status == SessionStatus.RUNNING
    if session is None:
        session, answer = _session_begin(
            charge_point_pk=charge_point_pk, event=event, readings=readings, start=start
        )
        earliest_seq = None
    else:
        logged = session.event_log.filter(seq_no=event.seq_no).first()
        if logged is not None:
            return SessionEventOutcome(
                transaction=session, authorization=_as_answered(logged), retransmitted=True
            )
        earliest_seq = session.event_log.order_by("seq_no").values_list("seq_no", flat=True).first()

    if answer is None and event.id_tag is not None:
        answer = _token_answer(session=session, event=event, start=start)
    corrected = None
    if earliest_seq is not None:
        corrected = _start_facts_follow(
            session=session, event=event, readings=readings, first=earliest_seq
        )
    if event.remote_start_id is not None and session.remote_start_id is None:
        session.remote_start_id = event.remote_start_id
        session.save(update_fields=["remote_start_id", "updated_at"])

    TransactionEventLog.objects.create(
        transaction=session,
        seq_no=event.seq_no,
        event_type=event.event_type,
        trigger_reason=event.trigger_reason,
        timestamp=event.timestamp,
        offline=event.offline,
        id_token="" if event.id_tag is None else event.id_tag,
        id_token_type=event.id_tag_type,
        id_token_status="" if answer is None else answer.status,
        charging_state=event.charging_state,
        stopped_reason=event.stopped_reason_reported,
        meter_wh=_first_wh(readings),
    )
    if event.event_type == TransactionEventType.ENDED and _awaits_its_stop(session):
        session = _session_end(session=session, event=event, readings=readings)
    else:
        if event.samples:
            MeterValue.objects.bulk_create(
                meter_values_build(
                    charge_point_pk=charge_point_pk,
                    connector_pk=session.connector_id,
                    transaction_pk=session.pk,
                    samples=event.samples,
                ),
                ignore_conflicts=True,
            )
        if session.stop_timestamp is not None and (event.samples or corrected is not None):
            _late_energy_check(session=session, reported=corrected)
    if (session.status == SessionStatus.RUNNING) != was_running:
        # A 2.0.1 plug stays Occupied through a session: the EVSE's status
        # (Charging / Preparing) follows the session instead.
        evse_id = Connector.objects.filter(pk=session.connector_id).values_list(
            "connector_id", flat=True
        )[0]
        evse_status_refresh(
            charge_point_pk=charge_point_pk, evse_id=evse_id, timestamp=event.timestamp
        )
    return SessionEventOutcome(transaction=session, authorization=answer)


def transaction_pk_for_charger_id(
    *, charge_point_pk: int, charger_transaction_id: str
) -> int | None:
    """The session a charger names by its own transaction id (a read, for command rules)."""
    if not charger_transaction_id:
        return None
    return (
        Transaction.objects.filter(
            charge_point_id=charge_point_pk, ocpp_transaction_id=charger_transaction_id
        )
        .values_list("pk", flat=True)
        .first()
    )


def transaction_remote_start_link(
    *, charge_point_pk: int, charger_transaction_id: str, remote_start_id: int
) -> bool:
    """Note that a remote start (by its id) led to a session the charger already runs."""
    return bool(
        Transaction.objects.filter(
            charge_point_id=charge_point_pk,
            ocpp_transaction_id=charger_transaction_id,
            remote_start_id__isnull=True,
        ).update(remote_start_id=remote_start_id, updated_at=timezone.now())
    )


def transaction_pk_for_remote_start(
    *, charge_point_pk: int, remote_start_id: int, since: datetime
) -> int | None:
    """The session a remote start led to: the first with its id on that charge point since then.

    A read, for showing a RequestStartTransaction command's session.
    """
    return (
        Transaction.objects.filter(
            charge_point_id=charge_point_pk, remote_start_id=remote_start_id, created_at__gte=since
        )
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)
        .first()
    )


def _awaits_its_stop(session: Transaction) -> bool:
    """Not ended yet, or ended by a newer start before the charger's own stop came."""
    superseded_unstopped = session.status == SessionStatus.SUPERSEDED and not session.stop_reason
    return session.stop_timestamp is None or superseded_unstopped


def _session_locked(*, charge_point_pk: int, charger_transaction_id: str) -> Transaction | None:
    return (
        Transaction.objects.select_for_update(of=("self",))
        .select_related("connector")
        .filter(charge_point_id=charge_point_pk, ocpp_transaction_id=charger_transaction_id)
        .first()
    )


def _session_begin(
    *,
    charge_point_pk: int,
    event: SessionEvent,
    readings: list[tuple[datetime, Decimal, str]],
    start: StartFunction,
) -> tuple[Transaction, Authorization | None]:
    """Begin the session the first event seen names, authorized as at a start.

    Without a reading yet its meter start is 0 until one arrives; without
    an id tag it waits (refused, start authorization blank) for one.
    """
    named = event.id_tag is not None
    begun_at = min([event.timestamp, *(at for at, _, _ in readings)])
    session, authorization = start(
        charge_point_pk=charge_point_pk,
        connector_id=UNKNOWN_EVSE if event.connector_id is None else event.connector_id,
        id_tag=event.id_tag if named and event.id_tag_usable else "",
        meter_start=_wh(_reading_at(readings, BEGIN_CONTEXT, first=True)) or 0,
        timestamp=begun_at,
        reservation_id=event.reservation_id,
    )
    if session.ocpp_transaction_id and session.ocpp_transaction_id != event.charger_transaction_id:
        raise SessionEventConflict(
            f"transaction {event.charger_transaction_id!r} has the start of "
            f"{session.ocpp_transaction_id!r}"
        )
    session = Transaction.objects.select_related("connector").get(pk=session.pk)
    session.ocpp_transaction_id = event.charger_transaction_id
    session.remote_start_id = event.remote_start_id
    fields = ["ocpp_transaction_id", "remote_start_id", "updated_at"]
    if not named:
        session.start_auth_status = ""  # waiting for someone, not refused for anyone
        fields.append("start_auth_status")
    session.save(update_fields=fields)
    return session, authorization if named else None


def _token_answer(
    *, session: Transaction, event: SessionEvent, start: StartFunction
) -> Authorization:
    """The answer to an event's id tag: it authorizes a waiting session, else is just checked."""
    if not event.id_tag_usable:
        return Authorization(status=AuthorizationStatus.INVALID)  # never a tag
    waiting = (
        session.status == SessionStatus.REFUSED
        and not session.start_auth_status
        and session.stop_timestamp is None
    )
    if not waiting:
        return idtag_authorize_at(charge_point_pk=session.charge_point_id, id_tag=event.id_tag)
    return _authorize_waiting(session=session, id_tag=event.id_tag, start=start)


def _authorize_waiting(*, session: Transaction, id_tag: str, start: StartFunction) -> Authorization:
    """Authorize a session that began before anyone was identified, as at its start."""
    if not chargepoint_in_service(charge_point_pk=session.charge_point_id):
        authorization = NOT_IN_SERVICE
    else:
        authorization = _start_authorization(id_tag=id_tag, connector_pk=session.connector_id)
    accepted = authorization.status == AuthorizationStatus.ACCEPTED
    if accepted and _connector_busy(session):
        authorization = Authorization(
            status="ConcurrentTx",
            expiry_date=authorization.expiry_date,
            parent_id_tag=authorization.parent_id_tag,
            tag=authorization.tag,
        )
        accepted = False
    session.id_tag = id_tag
    session.tag = authorization.tag
    session.start_auth_status = authorization.status
    if accepted:
        session.status = SessionStatus.RUNNING
    session.save(update_fields=["id_tag", "tag", "start_auth_status", "status", "updated_at"])
    if accepted:
        event_record(
            kind=EventKind.SESSION_STARTED,
            payload={
                "charge_point": session.charge_point_id,
                "transaction": session.pk,
                "status": session.status,
            },
        )
        # The start again, as a retransmission: a priced start fixes the prices now.
        start(
            charge_point_pk=session.charge_point_id,
            connector_id=session.connector.connector_id,
            id_tag=session.id_tag,
            meter_start=session.meter_start,
            timestamp=session.start_timestamp,
            reservation_id=session.reservation_id,
        )
    return authorization


def _connector_busy(session: Transaction) -> bool:
    return (
        Transaction.objects.filter(connector_id=session.connector_id, status=SessionStatus.RUNNING)
        .exclude(pk=session.pk)
        .exists()
    )


def _start_facts_follow(
    *,
    session: Transaction,
    event: SessionEvent,
    readings: list[tuple[datetime, Decimal, str]],
    first: int,
) -> Transaction | None:
    """Let an event numbered before those seen correct the session's start facts.

    An ended session keeps its figures: the corrected copy is returned, for
    the check whether the correction changes its energy.
    """
    reading = _wh(_reading_at(readings, BEGIN_CONTEXT, first=True))
    earliest_reading = session.event_log.filter(meter_wh__isnull=False).order_by("seq_no").first()
    meter_start = session.meter_start
    if reading is not None and (earliest_reading is None or event.seq_no < earliest_reading.seq_no):
        meter_start = reading
    start_timestamp = session.start_timestamp
    if event.seq_no < first and event.timestamp < start_timestamp:
        start_timestamp = event.timestamp
    if (meter_start, start_timestamp) == (session.meter_start, session.start_timestamp):
        return None
    if session.stop_timestamp is None:
        session.meter_start, session.start_timestamp = meter_start, start_timestamp
        session.save(update_fields=["meter_start", "start_timestamp", "updated_at"])
        return None
    corrected = copy.copy(session)
    corrected.meter_start = meter_start
    return corrected


def _session_end(
    *, session: Transaction, event: SessionEvent, readings: list[tuple[datetime, Decimal, str]]
) -> Transaction:
    """Stop the session at the Ended event: its last register reading is the meter stop."""
    meter_stop = _wh(_reading_at(readings, END_CONTEXT, first=False))
    if meter_stop is None:
        meter_stop = _latest_register_wh(session)
    stopped, _ = transaction_stop(
        charge_point_pk=session.charge_point_id,
        transaction_id=session.pk,
        meter_stop=session.meter_start if meter_stop is None else meter_stop,
        timestamp=event.timestamp,
        reason=event.stop_reason or StopReason.LOCAL,
        id_tag=event.id_tag if event.id_tag_usable else None,
        samples=event.samples,
    )
    return stopped


def _late_energy_check(*, session: Transaction, reported: Transaction | None = None) -> None:
    """Dispute an ended session whose energy a late event would change; change nothing else."""
    if session.status != SessionStatus.ENDED:
        return  # a refused session is never billed; a superseded one is disputed already
    # Long after the end its raw samples may be pruned: their roll-ups count too.
    energy = transaction_energy(transaction=reported or session, with_rollups=True).energy_wh
    recorded = (
        session.energy_wh_reported if session.energy_wh_reported is not None else session.energy_wh
    )
    if energy == recorded:
        return
    transaction_dispute_open(
        session=session,
        reasons=[
            f"Events reported after the session ended give {energy} Wh "
            f"instead of the {recorded} Wh recorded at its end."
        ],
    )
    session.save(
        update_fields=[
            "disputed_at",
            "dispute_reason",
            "dispute_resolution",
            "dispute_resolved_at",
            "dispute_resolved_by",
            "updated_at",
        ]
    )


def _as_answered(logged: TransactionEventLog) -> Authorization | None:
    """The answer a retransmitted event gets: its first answer's status, the tag as it is."""
    if not logged.id_token_status:
        return None
    current = idtag_authorize(id_tag=logged.id_token) if logged.id_token else None
    if current is None:
        return Authorization(status=logged.id_token_status)
    return Authorization(
        status=logged.id_token_status,
        expiry_date=current.expiry_date,
        parent_id_tag=current.parent_id_tag,
        tag=current.tag,
    )


def _register_readings(samples: Sequence[MeterSample]) -> list[tuple[datetime, Decimal, str]]:
    """The whole-meter energy register readings among samples: (time, Wh, context)."""
    readings = []
    for sample in samples:
        if sample.measurand != ENERGY_REGISTER or sample.phase or sample.value_format != "Raw":
            continue
        try:
            value = Decimal(sample.value)
        except InvalidOperation:
            continue
        wh = register_wh(value, sample.unit) if value.is_finite() else None
        if wh is not None:
            readings.append((sample.timestamp, wh, sample.context))
    return readings


def _reading_at(
    readings: list[tuple[datetime, Decimal, str]], context: str, *, first: bool
) -> Decimal | None:
    """The reading in that context, else the first (or last) by time."""
    for _, wh, reading_context in readings:
        if reading_context == context:
            return wh
    if not readings:
        return None
    ordered = sorted(readings, key=lambda reading: reading[0])
    return (ordered[0] if first else ordered[-1])[1]


def _first_wh(readings: list[tuple[datetime, Decimal, str]]) -> int | None:
    return _wh(_reading_at(readings, BEGIN_CONTEXT, first=True))


def _wh(value: Decimal | None) -> int | None:
    return None if value is None else int(value.to_integral_value())


def _latest_register_wh(session: Transaction) -> int | None:
    row = (
        session.meter_values.filter(
            measurand=ENERGY_REGISTER, phase="", numeric_value__isnull=False
        )
        .order_by("-timestamp", "-id")
        .values_list("numeric_value", "unit")
        .first()
    )
    if row is None:
        return None
    return _wh(register_wh(*row))

"""Roll-ups of a session's meter values, and the retention of raw samples.

Raw samples (`MeterValue`) grow with every charger's every reading; their
roll-ups (`MeterValueRollup`: per session, interval, measurand, phase and
unit the first and last reading, minimum, maximum, average and count) keep
a session's charts and its energy per interval in a bounded number of rows.
The retention sweep deletes raw samples of settled sessions once they are
old, right after rolling them up again in the same database transaction, so
a roll-up always covers every sample it replaced (late samples included).

What a sweep never deletes: the start and stop readings (contexts
Transaction.Begin and Transaction.End), signed or other non-raw values
(format SignedData: the proof a customer may verify an invoice with),
values without a number (nothing to roll them up into), and any sample of a
session that is running, disputed, not settled (the caller decides, billing
knows), recent, or whose register was reset during the session (its
segments: a reset inside an interval would not be visible in the roll-up).
See docs/METER_VALUES.md.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import groupby
from operator import itemgetter

from django.db import transaction
from django.db.models import Count, Q, Value
from django.utils import timezone

from ..choices import SessionStatus
from ..models import MeterValue, MeterValueRollup, SessionMeterRollup, Transaction
from .meter_values import ENERGY_REGISTER, register_wh

logger = logging.getLogger(__name__)

KEPT_CONTEXTS = ("Transaction.Begin", "Transaction.End")
_SIX_PLACES = Decimal("0.000001")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Ended sessions rolled up per database transaction (their samples are read at once).
_ROLLUP_BATCH = 200


def interval_start(at: datetime, *, seconds: int) -> datetime:
    """The start of the interval `at` falls in; intervals are aligned to UTC midnight."""
    elapsed = int((at - _EPOCH).total_seconds())
    return _EPOCH + timedelta(seconds=elapsed - elapsed % seconds)


@dataclass
class _Accumulator:
    first_at: datetime
    first_value: Decimal
    last_at: datetime
    last_value: Decimal
    min_value: Decimal
    max_value: Decimal
    total: Decimal
    count: int

    @classmethod
    def start(cls, at: datetime, value: Decimal) -> _Accumulator:
        return cls(at, value, at, value, value, value, value, 1)

    def add(self, at: datetime, value: Decimal) -> None:
        # Rows come oldest first (ties by id): the last one seen is the last reading.
        self.last_at, self.last_value = at, value
        self.min_value = min(self.min_value, value)
        self.max_value = max(self.max_value, value)
        self.total += value
        self.count += 1


def rollups_build(
    *, transaction_pk: int, rows: Iterable[tuple], interval_seconds: int
) -> list[MeterValueRollup]:
    """Roll up (timestamp, measurand, phase, unit, numeric value) rows, oldest first."""
    groups: dict[tuple, _Accumulator] = {}
    for at, measurand, phase, unit, value in rows:
        key = (measurand, phase, unit, interval_start(at, seconds=interval_seconds))
        group = groups.get(key)
        if group is None:
            groups[key] = _Accumulator.start(at, value)
        else:
            group.add(at, value)
    return [
        MeterValueRollup(
            transaction_id=transaction_pk,
            measurand=measurand,
            phase=phase,
            unit=unit,
            interval_start=start,
            first_at=g.first_at,
            first_value=g.first_value,
            last_at=g.last_at,
            last_value=g.last_value,
            min_value=g.min_value,
            max_value=g.max_value,
            avg_value=(g.total / g.count).quantize(_SIX_PLACES),
            sample_count=g.count,
        )
        for (measurand, phase, unit, start), g in groups.items()
    ]


def _numeric_rows(transaction_pk: int, *, since: datetime | None, until: datetime | None):
    rows = MeterValue.objects.filter(transaction_id=transaction_pk, numeric_value__isnull=False)
    if since is not None:
        rows = rows.filter(timestamp__gte=since)
    if until is not None:
        rows = rows.filter(timestamp__lt=until)
    return rows.order_by("timestamp", "id").values_list(
        "timestamp", "measurand", "phase", "unit", "numeric_value"
    )


def _interval_seconds(state: SessionMeterRollup | None, default_seconds: int) -> int:
    # A session keeps the interval it was first rolled up with, whatever the setting says now.
    return state.interval_seconds if state is not None else default_seconds


@transaction.atomic
def session_rollup_write(
    *, session: Transaction, interval_seconds: int, now: datetime | None = None
) -> SessionMeterRollup:
    """Roll up a session's samples: all of them once it ended, else its complete intervals.

    Idempotent: an ended session's roll-ups are rebuilt from its samples; a
    running one's are extended from where the last run stopped (the interval
    in progress is left for the next run).
    """
    now = now or timezone.now()
    state = SessionMeterRollup.objects.select_for_update().filter(pk=session.pk).first()
    if state is not None and state.raw_deleted:
        return state  # the raw samples are gone: the roll-ups are all there is
    seconds = _interval_seconds(state, interval_seconds)
    ended = session.stop_timestamp is not None and session.status != SessionStatus.RUNNING
    if ended:
        since, until = None, None
    else:
        since = state.rolled_up_until if state is not None else None
        until = interval_start(now, seconds=seconds)
        if since is not None and since >= until:
            return state
    built = rollups_build(
        transaction_pk=session.pk,
        rows=_numeric_rows(session.pk, since=since, until=until).iterator(chunk_size=2000),
        interval_seconds=seconds,
    )
    stale = MeterValueRollup.objects.filter(transaction_id=session.pk)
    if since is not None:
        stale = stale.filter(interval_start__gte=since)
    stale.delete()
    MeterValueRollup.objects.bulk_create(built, batch_size=1000)
    added = sum(rollup.sample_count for rollup in built)
    state, _ = SessionMeterRollup.objects.update_or_create(
        pk=session.pk,
        defaults=dict(
            interval_seconds=seconds,
            session_stopped_at=session.stop_timestamp if ended else None,
            rolled_up_until=session.stop_timestamp if ended else until,
            rolled_up_at=now,
            sample_count=added if since is None else (state.sample_count if state else 0) + added,
        ),
    )
    return state


@transaction.atomic
def sessions_rollup_write(
    *, sessions: list[Transaction], interval_seconds: int, now: datetime | None = None
) -> int:
    """Roll up ended sessions whole, many at once (a handful of queries for the batch).

    As session_rollup_write for each, without a round trip per session;
    sessions whose raw samples were deleted keep their roll-ups. Returns how
    many sessions were rolled up.
    """
    now = now or timezone.now()
    pks = [session.pk for session in sessions]
    states = {
        state.pk: state
        for state in SessionMeterRollup.objects.select_for_update().filter(pk__in=pks)
    }
    todo = {
        session.pk: session
        for session in sessions
        if session.stop_timestamp is not None
        and session.status != SessionStatus.RUNNING
        and not (session.pk in states and states[session.pk].raw_deleted)
    }
    if not todo:
        return 0
    rows = (
        MeterValue.objects.filter(transaction_id__in=list(todo), numeric_value__isnull=False)
        .order_by("transaction_id", "timestamp", "id")
        .values_list("transaction_id", "timestamp", "measurand", "phase", "unit", "numeric_value")
    )
    built: dict[int, list[MeterValueRollup]] = {pk: [] for pk in todo}
    for pk, session_rows in groupby(rows, key=itemgetter(0)):
        built[pk] = rollups_build(
            transaction_pk=pk,
            rows=(row[1:] for row in session_rows),
            interval_seconds=_interval_seconds(states.get(pk), interval_seconds),
        )
    MeterValueRollup.objects.filter(transaction_id__in=list(todo)).delete()
    MeterValueRollup.objects.bulk_create(
        [rollup for rollups in built.values() for rollup in rollups], batch_size=2000
    )
    SessionMeterRollup.objects.bulk_create(
        [
            SessionMeterRollup(
                transaction_id=pk,
                interval_seconds=_interval_seconds(states.get(pk), interval_seconds),
                session_stopped_at=session.stop_timestamp,
                rolled_up_until=session.stop_timestamp,
                rolled_up_at=now,
                sample_count=sum(rollup.sample_count for rollup in built[pk]),
            )
            for pk, session in todo.items()
        ],
        update_conflicts=True,
        unique_fields=["transaction"],
        update_fields=[
            "interval_seconds",
            "session_stopped_at",
            "rolled_up_until",
            "rolled_up_at",
            "sample_count",
        ],
    )
    return len(todo)


@dataclass(frozen=True)
class RollupSweepResult:
    ended: int
    running: int


def meter_rollups_sweep(
    *,
    interval_seconds: int,
    lookback: timedelta,
    running_after: timedelta,
    limit: int = 2000,
    now: datetime | None = None,
) -> RollupSweepResult:
    """Roll up sessions that ended lately (changed within `lookback`) and long running ones.

    Ended sessions are found by their last change (server time, indexed), so
    a session whose charger's clock is wrong is found too; older history is
    rolled up by `manage.py meter_rollups --backfill`.
    """
    now = now or timezone.now()
    ended = (
        Transaction.objects.filter(updated_at__gte=now - lookback, stop_timestamp__isnull=False)
        .exclude(status=SessionStatus.RUNNING)
        .filter(Q(meter_rollup__isnull=True) | Q(meter_rollup__session_stopped_at__isnull=True))
        .order_by("updated_at", "id")[:limit]
    )
    done_ended = 0
    ended = list(ended)
    for start in range(0, len(ended), _ROLLUP_BATCH):
        done_ended += sessions_rollup_write(
            sessions=ended[start : start + _ROLLUP_BATCH],
            interval_seconds=interval_seconds,
            now=now,
        )
    running = Transaction.objects.filter(
        status=SessionStatus.RUNNING, start_timestamp__lt=now - running_after
    ).order_by("start_timestamp", "id")[:limit]
    done_running = 0
    for session in running:
        session_rollup_write(session=session, interval_seconds=interval_seconds, now=now)
        done_running += 1
    if done_ended or done_running:
        logger.info(
            "meter roll-ups: %d ended sessions rolled up, %d running sessions extended",
            done_ended,
            done_running,
        )
    return RollupSweepResult(ended=done_ended, running=done_running)


def meter_rollups_backfill(
    *, interval_seconds: int, batch: int = 1000, after_pk: int = 0, now: datetime | None = None
) -> int:
    """Roll up every ended session without roll-ups (older history); return how many."""
    now = now or timezone.now()
    done = 0
    while True:
        sessions = list(
            Transaction.objects.filter(
                pk__gt=after_pk, stop_timestamp__isnull=False, meter_rollup__isnull=True
            )
            .exclude(status=SessionStatus.RUNNING)
            .order_by("pk")[:batch]
        )
        if not sessions:
            return done
        for start in range(0, len(sessions), _ROLLUP_BATCH):
            done += sessions_rollup_write(
                sessions=sessions[start : start + _ROLLUP_BATCH],
                interval_seconds=interval_seconds,
                now=now,
            )
        after_pk = sessions[-1].pk
        logger.info("meter roll-ups backfill: %d sessions so far (last id %d)", done, after_pk)


# --- Retention ---------------------------------------------------------------------


def _prunable_samples() -> Q:
    """Raw samples a roll-up fully replaces: numbers, not start/stop readings, not signed."""
    return Q(numeric_value__isnull=False, format="Raw") & ~Q(context__in=KEPT_CONTEXTS)


def _never_pruned() -> Q:
    """Sessions whose samples are kept whatever the caller considers settled."""
    open_dispute = Q(disputed_at__isnull=False, dispute_resolution="")
    return Q(status=SessionStatus.RUNNING) | Q(stop_timestamp__isnull=True) | open_dispute


@dataclass(frozen=True)
class PruneResult:
    sessions: int
    deleted: int
    unlinked_deleted: int
    skipped: int


def meter_values_prune(
    *,
    settled: Q,
    retention: timedelta | None,
    unlinked_retention: timedelta | None,
    interval_seconds: int,
    batch_sessions: int = 100,
    max_batches: int = 100,
    now: datetime | None = None,
) -> PruneResult:
    """Delete raw samples of settled sessions that ended before now - retention.

    `settled` is a filter over Transaction saying which ended sessions are
    billed or settled for good (billing.selectors.transaction_settled_q);
    running and disputed sessions are never touched whatever it says. Each
    batch of `batch_sessions` sessions is one short database transaction:
    the sessions are locked and checked again, rolled up afresh from their
    samples, and only then are the samples that roll-up covers deleted.
    Samples without a session older than `unlinked_retention` (by receipt)
    go in batches too; None (either retention) keeps them.
    """
    now = now or timezone.now()
    sessions = deleted = skipped = 0
    if retention is not None:
        sessions, deleted, skipped = _prune_sessions(
            settled=settled,
            cutoff=now - retention,
            interval_seconds=interval_seconds,
            batch_sessions=batch_sessions,
            max_batches=max_batches,
            now=now,
        )
    unlinked = 0
    if unlinked_retention is not None:
        unlinked = _prune_unlinked(
            before=now - unlinked_retention, batch=batch_sessions * 50, max_batches=max_batches
        )
    logger.info(
        "meter values retention: %d raw samples of %d sessions deleted (%d sessions kept: "
        "not settled, disputed or with a meter reset), %d samples without a session deleted",
        deleted,
        sessions,
        skipped,
        unlinked,
    )
    return PruneResult(
        sessions=sessions, deleted=deleted, unlinked_deleted=unlinked, skipped=skipped
    )


def _prune_sessions(
    *,
    settled: Q,
    cutoff: datetime,
    interval_seconds: int,
    batch_sessions: int,
    max_batches: int,
    now: datetime,
) -> tuple[int, int, int]:
    candidates = (
        SessionMeterRollup.objects.filter(
            raw_deleted_at__isnull=True,
            session_stopped_at__isnull=False,
            session_stopped_at__lt=cutoff,
            transaction__updated_at__lt=cutoff,
        )
        .order_by("session_stopped_at", "transaction_id")
        .values_list("session_stopped_at", "transaction_id")
    )
    sessions = deleted = skipped = 0
    position: tuple[datetime, int] | None = None
    for _ in range(max_batches):
        page = candidates
        if position is not None:
            at, pk = position
            page = page.filter(
                Q(session_stopped_at__gt=at) | Q(session_stopped_at=at, transaction_id__gt=pk)
            )
        keys = list(page[:batch_sessions])
        if not keys:
            break
        position = keys[-1]
        batch_sessions_done, batch_deleted, batch_skipped = _prune_batch(
            [pk for _, pk in keys],
            settled=settled,
            cutoff=cutoff,
            interval_seconds=interval_seconds,
            now=now,
        )
        sessions += batch_sessions_done
        deleted += batch_deleted
        skipped += batch_skipped
    return sessions, deleted, skipped


@transaction.atomic
def _prune_batch(
    pks: list[int], *, settled: Q, cutoff: datetime, interval_seconds: int, now: datetime
) -> tuple[int, int, int]:
    # Locked and checked again: a late event may have disputed one since the scan.
    eligible = list(
        Transaction.objects.select_for_update(of=("self",))
        .filter(pk__in=pks, stop_timestamp__lt=cutoff, updated_at__lt=cutoff)
        .exclude(_never_pruned())
        .filter(settled)
        .order_by("pk")
    )
    # A register reset inside an interval would not show in its roll-up: keep those raw.
    eligible = [s for s in eligible if len(s.meter_segments or ()) <= 1]
    if not eligible:
        return 0, 0, len(pks)
    sessions_rollup_write(sessions=eligible, interval_seconds=interval_seconds, now=now)
    prunable = MeterValue.objects.filter(
        _prunable_samples(), transaction_id__in=[session.pk for session in eligible]
    )
    counts = dict(
        prunable.order_by()
        .values("transaction_id")
        .annotate(n=Count("id"))
        .values_list("transaction_id", "n")
    )
    deleted, _ = prunable.delete()
    states = list(SessionMeterRollup.objects.filter(pk__in=[session.pk for session in eligible]))
    for state in states:
        state.raw_deleted_at = now
        state.raw_deleted_count = counts.get(state.pk, 0)
    SessionMeterRollup.objects.bulk_update(states, ["raw_deleted_at", "raw_deleted_count"])
    return len(eligible), deleted, len(pks) - len(eligible)


def _prune_unlinked(*, before: datetime, batch: int, max_batches: int) -> int:
    deleted = 0
    for _ in range(max_batches):
        pks = list(
            MeterValue.objects.filter(transaction__isnull=True, received_at__lt=before)
            .order_by("received_at", "id")
            .values_list("pk", flat=True)[:batch]
        )
        if not pks:
            break
        count, _ = MeterValue.objects.filter(pk__in=pks, transaction__isnull=True).delete()
        deleted += count
    return deleted


# --- Reading roll-ups back ------------------------------------------------------


def register_readings_of(*, transaction_pks: Iterable[int]) -> dict[int, list]:
    """Whole-meter register readings (absolute Wh) per session by time, raw and rolled up.

    One query for any number of sessions: the raw readings (time, id order)
    and, of sessions whose raw samples were pruned, their roll-ups' first and
    last reading of each interval where no raw reading has the same instant.
    """
    pks = list(transaction_pks)
    raw = (
        MeterValue.objects.filter(
            transaction_id__in=pks, measurand=ENERGY_REGISTER, phase="", numeric_value__isnull=False
        )
        .annotate(source=Value(0))
        .values_list("transaction_id", "timestamp", "numeric_value", "unit", "source", "id")
        .order_by()  # a compound statement's parts are unordered (SQLite insists)
    )
    rolled = MeterValueRollup.objects.filter(
        transaction_id__in=pks,
        transaction__meter_rollup__raw_deleted_at__isnull=False,
        measurand=ENERGY_REGISTER,
        phase="",
    ).order_by()
    first = rolled.annotate(source=Value(1)).values_list(
        "transaction_id", "first_at", "first_value", "unit", "source", "id"
    )
    last = rolled.annotate(source=Value(2)).values_list(
        "transaction_id", "last_at", "last_value", "unit", "source", "id"
    )
    rows = sorted(raw.union(first, last, all=True), key=lambda row: (row[1], row[4], row[5]))
    readings: dict[int, list] = {}
    raw_instants: set[tuple[int, datetime]] = set()
    for pk, at, value, unit, source, _ in rows:
        if source:
            if (pk, at) in raw_instants:
                continue
        else:
            raw_instants.add((pk, at))
        wh = register_wh(Decimal(value), unit)
        if wh is not None:
            session = readings.setdefault(pk, [])
            if source and session and session[-1][0] == at:
                continue  # an interval's only reading is its first and its last
            session.append((at, wh))
    return readings

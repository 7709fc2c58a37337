"""Writes of the billing app: invoices, their numbers, failures, the energy roll-up."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from drivers.selectors import Authorization
from events.kinds import EventKind
from events.models import OutboxMessage
from events.services import event_record
from stations.choices import DisputeResolution, SessionStatus
from stations.models import Transaction
from stations.services import transaction_start

from .energy import energy_between, energy_curve
from .models import (
    BillingFailure,
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    StationEnergyHour,
    Tariff,
)
from .pricing import PricingError, Terms, price_session
from .selectors import (
    tariff_at_start,
    tariff_in_force,
    transaction_register_readings,
    transaction_session_facts,
)

logger = logging.getLogger(__name__)

HOUR = timedelta(hours=1)


def invoice_number_next(*, year: int) -> str:
    """Take the next gap-free number of the year; call inside a transaction.

    The year's row is locked until the caller commits, so concurrent
    invoices queue for it; a rolled-back invoice gives its number back.
    """
    try:
        with transaction.atomic():
            InvoiceSequence.objects.create(year=year)
    except IntegrityError:
        pass
    sequence = InvoiceSequence.objects.select_for_update().get(year=year)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return f"{year}-{sequence.last_number:06d}"


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def tariff_snapshot(tariff: Tariff) -> dict:
    """The tariff's prices as the invoice keeps them (pricing.Terms reads this)."""
    return {
        "id": tariff.pk,
        "name": tariff.name,
        "currency": tariff.currency,
        "price_per_kwh": str(tariff.price_per_kwh),
        "price_per_minute": str(tariff.price_per_minute),
        "idle_price_per_minute": str(tariff.idle_price_per_minute),
        "idle_grace_minutes": tariff.idle_grace_minutes,
        "idle_power_threshold_w": tariff.idle_power_threshold_w,
        "session_fee": str(tariff.session_fee),
        "min_price": _text(tariff.min_price),
        "max_price": _text(tariff.max_price),
        "vat_rate": str(tariff.vat_rate),
        "periods": [
            {
                "start": period.start_time.isoformat(),
                "end": period.end_time.isoformat(),
                "price_per_kwh": _text(period.price_per_kwh),
                "price_per_minute": _text(period.price_per_minute),
            }
            for period in (tariff.periods.all() if getattr(tariff, "has_periods", True) else ())
        ],
    }


# No savepoint of its own: inside the group commit's batch transaction it
# would cost two more round trips per start, and a failure rolls back the
# batch (whose writes are then retried one by one) all the same.
@transaction.atomic(savepoint=False)
def transaction_start_priced(
    *,
    charge_point_pk: int,
    connector_id: int,
    id_tag: str,
    meter_start: int,
    timestamp: datetime,
    reservation_id: int | None = None,
) -> tuple[Transaction, Authorization]:
    """Record a started session (stations' transaction_start) and fix its prices.

    The tariff in force at the start is copied onto the session in the same
    database transaction, so that editing or adding tariffs while it charges
    never changes its bill. A retransmitted start keeps the prices fixed the
    first time. A refused session is never billed and a session no tariff
    applies to has nothing to fix: neither gets a copy (invoicing records the
    missing tariff as a billing failure).
    """
    priced = []

    def prices(session: Transaction) -> dict | None:
        priced.append(session)
        return _snapshot_at_start(session)

    started, authorization = transaction_start(
        charge_point_pk=charge_point_pk,
        connector_id=connector_id,
        id_tag=id_tag,
        meter_start=meter_start,
        timestamp=timestamp,
        reservation_id=reservation_id,
        prices=prices,
    )
    if priced or started.tariff_snapshot is not None or started.status == SessionStatus.REFUSED:
        return started, authorization
    # A retransmitted start that found no tariff the first time: fix one now if one applies.
    snapshot = _snapshot_at_start(started)
    # Only if still empty: never overwrite prices an earlier copy of this start fixed.
    if snapshot is not None and Transaction.objects.filter(
        pk=started.pk, tariff_snapshot__isnull=True
    ).update(tariff_snapshot=snapshot, updated_at=timezone.now()):
        started.tariff_snapshot = snapshot
    return started, authorization


def _snapshot_at_start(session: Transaction) -> dict | None:
    tariff = tariff_at_start(transaction=session, now=timezone.now())
    return None if tariff is None else tariff_snapshot(tariff)


def _is_billable(session: Transaction) -> bool:
    """Ended and not waiting for (or voided by) an operator's decision.

    A running session is not finished, a refused one never ran, a disputed
    one (a superseded one is always disputed) waits for an operator, and a
    voided one must never be billed. An accepted or corrected dispute is
    billed, a correction with the energy the operator entered.
    """
    return not (
        session.is_open
        or session.status == SessionStatus.REFUSED
        or session.is_disputed
        or session.dispute_resolution == DisputeResolution.VOIDED
    )


@transaction.atomic
def invoice_create(*, transaction_id: int) -> Invoice | None:
    """Bill a finished transaction once; a second call returns the same invoice.

    The session is priced with the tariff copied onto it when it started
    (older sessions without a copy: the tariff in force at their start).
    Returns None for an unknown session or one that is not billable (running,
    refused, disputed and undecided, voided: no billing failure, the dispute
    is the operator's signal), one with no applicable tariff (recorded as a
    billing failure), or (unless BILLING_INVOICE_ZERO_ENERGY) one that
    delivered no energy. The number takes the year of issue. Raises
    PricingError when the configuration cannot price it.
    """
    session = (
        Transaction.objects.select_for_update(of=("self",))
        .select_related("charge_point__station", "tag")
        .filter(pk=transaction_id)
        .first()
    )
    if session is None or not _is_billable(session):
        return None
    existing = Invoice.objects.filter(transaction=session).first()
    if existing is not None:
        return existing
    energy_wh = session.energy_wh or 0
    if energy_wh <= 0 and not settings.BILLING_INVOICE_ZERO_ENERGY:
        logger.info("transaction %s delivered no energy: no invoice", session.pk)
        return None
    snapshot = session.tariff_snapshot or _snapshot_in_force(session)
    if snapshot is None:
        logger.warning("transaction %s: no tariff applies, not invoiced", session.pk)
        billing_failure_record(
            transaction_id=session.pk, error="No tariff applies to this session.", will_retry=False
        )
        return None

    bill = price_session(
        Terms.from_snapshot(snapshot), transaction_session_facts(transaction=session)
    )
    # The tariff itself may have been deleted since the start: the snapshot
    # still prices the session, and the invoice then links no tariff.
    tariff = Tariff.objects.filter(pk=snapshot.get("id")).first()
    invoice = Invoice.objects.create(
        # The year the invoice is issued in, in the operator's time zone: not
        # the charger's stop time, which may be wrong or a year old.
        number=invoice_number_next(year=timezone.localdate().year),
        transaction=session,
        tariff=tariff,
        tariff_snapshot=snapshot,
        currency=bill.currency,
        energy_wh=energy_wh,
        net_total=bill.net,
        vat_total=bill.vat,
        total=bill.total,
    )
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            component=line.component.value,
            description=line.description,
            quantity=line.quantity,
            unit=line.unit,
            unit_price=line.unit_price,
            amount=line.amount,
        )
        for line in bill.lines
    )
    BillingFailure.objects.filter(transaction=session, resolved_at__isnull=True).update(
        resolved_at=timezone.now(), will_retry=False
    )
    event_record(
        kind=EventKind.INVOICE_ISSUED,
        payload={
            "invoice": invoice.pk,
            "transaction": session.pk,
            "total": str(invoice.total),
            "currency": invoice.currency,
        },
    )
    return invoice


def _snapshot_in_force(session: Transaction) -> dict | None:
    """The prices of a session that has none fixed (recorded before they were)."""
    tariff = tariff_in_force(transaction=session)
    return None if tariff is None else tariff_snapshot(tariff)


def billing_failure_record(
    *, transaction_id: int, error: str, will_retry: bool, now: datetime | None = None
) -> BillingFailure | None:
    """Note a failed invoicing attempt where the operator sees it (admin)."""
    now = now or timezone.now()
    if not Transaction.objects.filter(pk=transaction_id).exists():
        return None
    fields = dict(error=error[:5000], will_retry=will_retry, last_failed_at=now, resolved_at=None)
    try:
        with transaction.atomic():
            return BillingFailure.objects.create(
                transaction_id=transaction_id, first_failed_at=now, **fields
            )
    except IntegrityError:  # failed before: count the attempt
        BillingFailure.objects.filter(transaction_id=transaction_id).update(
            attempts=F("attempts") + 1, **fields
        )
        return BillingFailure.objects.get(transaction_id=transaction_id)


def station_energy_rollup(*, now: datetime | None = None, hours: int = 24) -> int:
    """Recompute the energy per station of the last `hours` full clock hours (UTC).

    Recomputing a whole window, not only the last hour, takes in readings and
    stops that arrive late (a charger back online); running it twice gives
    the same rows. Charge points without a station are not counted.
    Returns the number of (station, hour) rows written.
    """
    now = now or timezone.now()
    window_end = now.replace(minute=0, second=0, microsecond=0)
    window_start = window_end - hours * HOUR
    sessions = list(
        Transaction.objects.filter(
            Q(stop_timestamp__isnull=True) | Q(stop_timestamp__gt=window_start),
            ~Q(status=SessionStatus.REFUSED),  # never charged as far as billing knows
            charge_point__station__isnull=False,
            start_timestamp__lt=window_end,
        ).values(
            "pk",
            "charge_point__station_id",
            "start_timestamp",
            "stop_timestamp",
            "meter_start",
            "energy_wh",
        )
    )
    readings = transaction_register_readings(transaction_ids=[s["pk"] for s in sessions])
    energy: dict[tuple[int, datetime], Decimal] = defaultdict(Decimal)
    counts: dict[tuple[int, datetime], int] = defaultdict(int)
    for session in sessions:
        start, stop = session["start_timestamp"], session["stop_timestamp"]
        curve = energy_curve(
            start=start,
            stop=stop,
            total_wh=session["energy_wh"],
            readings=[(at, wh - session["meter_start"]) for at, wh in readings[session["pk"]]],
        )
        hour = max(window_start, start.replace(minute=0, second=0, microsecond=0))
        last = min(window_end, stop or window_end)
        while hour < last:
            key = (session["charge_point__station_id"], hour)
            energy[key] += energy_between(curve, hour, hour + HOUR)
            counts[key] += 1
            hour += HOUR
    rows = [
        StationEnergyHour(
            station_id=station_id,
            hour=hour,
            energy_wh=int(energy[station_id, hour].quantize(Decimal(1), ROUND_HALF_UP)),
            session_count=counts[station_id, hour],
        )
        for station_id, hour in counts
    ]
    with transaction.atomic():
        _rollup_replace(rows, window_start=window_start, window_end=window_end)
    return len(rows)


def _rollup_replace(
    rows: list[StationEnergyHour], *, window_start: datetime, window_end: datetime
) -> None:
    """Write the window's rows; drop those no session contributes to any more."""
    keep = {(row.station_id, row.hour) for row in rows}
    stale = [
        pk
        for pk, station_id, hour in StationEnergyHour.objects.filter(
            hour__gte=window_start, hour__lt=window_end
        ).values_list("pk", "station_id", "hour")
        if (station_id, hour) not in keep
    ]
    StationEnergyHour.objects.filter(pk__in=stale).delete()
    StationEnergyHour.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["station", "hour"],
        update_fields=["energy_wh", "session_count", "updated_at"],
    )


# The subscriber that invoices sessions from their events (billing.subscribers).
INVOICING_SUBSCRIBER = "invoicing"


def _sessions_missing_invoice(*, ended_before: datetime, ended_after: datetime) -> list[int]:
    """Ended sessions without an invoice that nothing else will invoice, oldest first.

    Left out: what invoice_create would not bill (running, refused, disputed
    and undecided, voided; no energy unless BILLING_INVOICE_ZERO_ENERGY),
    sessions whose billing failure waits for an operator (no tariff, a
    pricing error: retrying cannot fix it), and sessions whose invoicing
    event is still pending in the outbox (the relay is on it, with back-off).
    """
    candidates = (
        Transaction.objects.filter(
            invoice__isnull=True,
            status__in=(SessionStatus.ENDED, SessionStatus.SUPERSEDED),
            updated_at__lt=ended_before,
            updated_at__gte=ended_after,
        )
        .exclude(disputed_at__isnull=False, dispute_resolution="")
        .exclude(dispute_resolution=DisputeResolution.VOIDED)
        .exclude(billing_failure__resolved_at__isnull=True, billing_failure__will_retry=False)
    )
    if not settings.BILLING_INVOICE_ZERO_ENERGY:
        candidates = candidates.filter(energy_wh__gt=0)
    ids = list(candidates.order_by("updated_at", "pk").values_list("pk", flat=True))
    if not ids:
        return []
    pending = {
        message.payload.get("transaction")
        for message in OutboxMessage.objects.filter(
            subscriber=INVOICING_SUBSCRIBER, handled_at__isnull=True
        ).only("payload")
    }
    return [pk for pk in ids if pk not in pending]


@transaction.atomic
def _invoice_create_if_missing(*, transaction_id: int) -> Invoice | None:
    """invoice_create, None when the session has its invoice already (not issued here)."""
    Transaction.objects.select_for_update().filter(pk=transaction_id).first()  # wait for a racer
    if Invoice.objects.filter(transaction_id=transaction_id).exists():
        return None
    return invoice_create(transaction_id=transaction_id)


@dataclass(frozen=True)
class InvoiceSweep:
    """What one sweep did: invoices issued, sessions that still could not be."""

    issued: list[int]
    failed: list[int]


def invoice_create_missing(
    *, now: datetime | None = None, grace: timedelta, lookback: timedelta
) -> InvoiceSweep:
    """Issue the invoice of every ended billable session that has none, once.

    The safety net behind the outbox: a session that ended more than `grace`
    ago (the outbox had its chance) and less than `lookback` ago (bounds the
    scan) and still has no invoice is invoiced here. Each session goes
    through invoice_create in a transaction of its own, which locks the
    session row and finds an existing invoice; the one-invoice-per-session
    constraint settles a race with a concurrent sweep or relay on databases
    without row locks. Returns the ids of issued invoices' sessions and of
    those that failed (recorded as billing failures, retried next time).
    """
    now = now or timezone.now()
    issued: list[int] = []
    failed: list[int] = []
    for transaction_id in _sessions_missing_invoice(
        ended_before=now - grace, ended_after=now - lookback
    ):
        try:
            invoice = _invoice_create_if_missing(transaction_id=transaction_id)
        except IntegrityError:
            # Another sweep or the relay invoiced it meanwhile: exactly once.
            logger.info("transaction %s was invoiced concurrently", transaction_id)
            continue
        except Exception as exc:
            logger.warning("invoice sweep: transaction %s failed", transaction_id, exc_info=True)
            billing_failure_record(
                transaction_id=transaction_id,
                error=f"{type(exc).__name__}: {exc}",
                will_retry=not isinstance(exc, PricingError),
            )
            failed.append(transaction_id)
            continue
        if invoice is not None:
            issued.append(transaction_id)
    if issued or failed:
        logger.info("invoice sweep: %d issued, %d failed", len(issued), len(failed))
    return InvoiceSweep(issued=issued, failed=failed)

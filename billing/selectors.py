"""Reads of the billing app: which tariff applies, what a session looked like, exports."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from drivers.models import IdTag
from orm_support.query_templates import QueryTemplate
from stations.choices import DisputeResolution, RegistrationStatus, SessionStatus
from stations.models import ChargePoint, Transaction
from stations.selectors import transaction_energy_so_far, transaction_list
from stations.services.meter_rollups import register_readings_of

from .models import BillingFailure, Invoice, TagGroup, Tariff, TariffPeriod
from .pricing import Bill, PricingError, SessionFacts, Terms, price_session


def tariff_specificity(tariff: Tariff) -> tuple:
    """The order in which tariffs that all apply win: the greatest is the session's.

    An id tag group, then a connector, a charge point, a station (the
    default has none); then the priority, then the newest.
    """
    return (
        tariff.tag_group_id is not None,
        tariff.connector_id is not None,
        tariff.charge_point_id is not None,
        tariff.station_id is not None,
        tariff.priority,
        tariff.pk,
    )


def _valid_at(at: datetime) -> Q:
    return (Q(valid_from__isnull=True) | Q(valid_from__lte=at)) & (
        Q(valid_until__isnull=True) | Q(valid_until__gt=at)
    )


def _is_valid_at(tariff: Tariff, at: datetime) -> bool:
    return (tariff.valid_from is None or tariff.valid_from <= at) and (
        tariff.valid_until is None or tariff.valid_until > at
    )


def tariff_tag_ids(*, tag_id: int | None, parent_id: int | None) -> list[int]:
    """The id tags whose groups a session's tariff may be reserved for: its tag and parent."""
    return [pk for pk in (tag_id, parent_id) if pk]


def _session_tag_ids(transaction: Transaction) -> list[int]:
    return tariff_tag_ids(tag_id=transaction.tag_id, parent_id=_parent_tag_id(transaction))


def _most_specific(tariffs: Iterable[Tariff], *, at: datetime | None = None) -> Tariff | None:
    """The tariff that wins among candidates (those valid at `at`, when given)."""
    return max(
        (tariff for tariff in tariffs if at is None or _is_valid_at(tariff, at)),
        key=tariff_specificity,
        default=None,
    )


def tariff_candidates(
    *,
    valid_at: Sequence[datetime],
    tag_ids: Sequence[int],
    charge_point_pk: int | None,
    connector_pk: int | None,
) -> QuerySet[Tariff]:
    """The tariffs that may apply to a session of these id tags there, valid at one of `valid_at`.

    The one rule of "which tariffs apply" (tariff_in_force, tariff_at_start,
    a driver's list, a quote): every scope a tariff sets must match. Its
    id tag group must hold one of `tag_ids` (a session's tag and its parent);
    its station, charge point and connector must be where the session runs.
    A location given as None is anywhere: the tariffs of every location
    match. A tariff without any scope applies only as the default. An
    empty `valid_at` asks for every validity (a driver's list filters it).

    The charge point's station is read in the query itself: a session just
    started has only the charge point's pk, and loading the row would cost
    the start a query.
    """
    groups = TagGroup.objects.filter(id_tags__in=tag_ids).values("pk") if tag_ids else []
    scope = Q(tag_group__isnull=True) | Q(tag_group__in=groups)
    if charge_point_pk is not None:
        station = ChargePoint.objects.filter(pk=charge_point_pk).order_by().values("station_id")
        scope &= Q(station__isnull=True) | Q(station_id=Subquery(station))
        scope &= Q(charge_point__isnull=True) | Q(charge_point_id=charge_point_pk)
    if connector_pk is not None:
        scope &= Q(connector__isnull=True) | Q(connector_id=connector_pk)
    valid = Q()
    for moment in valid_at:
        valid |= _valid_at(moment)
    return (
        Tariff.objects.filter(valid, scope)
        .exclude(
            is_default=False,
            station__isnull=True,
            charge_point__isnull=True,
            connector__isnull=True,
            tag_group__isnull=True,
        )
        .prefetch_related("periods")
    )


def tariff_list_for_driver(*, user, now: datetime | None = None) -> QuerySet[Tariff]:
    """The tariffs a driver may be charged: valid now or later, public or of their groups.

    "Their groups": the id tag groups holding one of their tags or its
    parent (as a session's group is found). Tariffs of every location where
    they can charge are listed: not those of a charge point (or its
    connector, or a station without one) that is not in service (not
    accepted by the operator), where no driver can start. A group's tariff
    the driver is not in, an expired one, and one that can never apply are
    not listed. A tariff valid only from a later date is: its prices apply
    from `valid_from`.
    """
    if not user.is_authenticated:
        return Tariff.objects.none()
    now = now or timezone.now()
    tags = IdTag.objects.filter(driver__user=user).values_list("pk", "parent_id")
    tag_ids = sorted({pk for pair in tags for pk in pair if pk is not None})
    accepted = RegistrationStatus.ACCEPTED
    station_in_service = Exists(
        ChargePoint.objects.filter(station=OuterRef("station"), registration_status=accepted)
    )
    return tariff_candidates(
        valid_at=[], tag_ids=tag_ids, charge_point_pk=None, connector_pk=None
    ).filter(
        Q(valid_until__isnull=True) | Q(valid_until__gt=now),
        Q(charge_point__isnull=True) | Q(charge_point__registration_status=accepted),
        Q(connector__isnull=True) | Q(connector__charge_point__registration_status=accepted),
        Q(station__isnull=True) | Q(station_in_service),
    )


def tariff_in_force(*, transaction: Transaction, at: datetime | None = None) -> Tariff | None:
    """The tariff of a session: the most specific one valid when it started (or `at`).

    An id tag group beats a connector, which beats a charge point, which
    beats a station, which beats the default; among equals the highest
    priority (then the newest) wins. Every scope a tariff sets must match.
    """
    return tariff_applicable(
        tag_ids=_session_tag_ids(transaction),
        charge_point_pk=transaction.charge_point_id,
        connector_pk=transaction.connector_id,
        at=at or transaction.start_timestamp,
    )


def tariff_applicable(
    *, tag_ids: Sequence[int], charge_point_pk: int, connector_pk: int, at: datetime
) -> Tariff | None:
    """The tariff a session of these id tags (a tag and its parent) there gets at `at`.

    The one choice of a session's tariff, from plain values: tariff_in_force
    and tariff_at_start ask it for sessions, a price quote for a session
    that has not started (billing.quotes). The same candidates, the same
    order of specificity.
    """
    return _most_specific(
        tariff_candidates(
            valid_at=[at],
            tag_ids=tag_ids,
            charge_point_pk=charge_point_pk,
            connector_pk=connector_pk,
        )
    )


def _candidates_at_start(
    *, start: datetime, now: datetime, tag_ids: list[int], charge_point_pk: int, connector_pk: int
) -> QuerySet[Tariff]:
    registered_at = ChargePoint.objects.filter(pk=charge_point_pk).order_by().values("created_at")
    return (
        tariff_candidates(
            valid_at=[start, now],
            tag_ids=tag_ids,
            charge_point_pk=charge_point_pk,
            connector_pk=connector_pk,
        )
        # Most tariffs have no time-of-day periods: instead of prefetching
        # them, the snapshot reads those of the chosen tariff if it has any.
        .prefetch_related(None)
        .annotate(
            charge_point_registered_at=Subquery(registered_at),
            has_periods=Exists(TariffPeriod.objects.filter(tariff=OuterRef("pk"))),
        )
    )


# Every StartTransaction runs it: compiled once (orm_support.query_templates).
_CANDIDATES_AT_START = QueryTemplate(_candidates_at_start)


def tariff_at_start(*, transaction: Transaction, now: datetime) -> Tariff | None:
    """The tariff to fix on a session as it starts: the one in force at its start.

    A start time the charger's clock cannot have got right (more than
    PLAUSIBILITY_CLOCK_SKEW_SECONDS after now, or before the charge point was
    registered, with the same tolerance) would pick the prices of another
    time; the session is then priced at now, when it really was reported.
    One query on the hot path: the tariffs valid at either moment come back
    with the charge point's registration time, and the moment is chosen here.
    """
    start = transaction.start_timestamp
    skew = timedelta(seconds=settings.PLAUSIBILITY_CLOCK_SKEW_SECONDS)
    if start > now + skew:
        return tariff_in_force(transaction=transaction, at=now)
    candidates = _CANDIDATES_AT_START.rows(
        start=start,
        now=now,
        tag_ids=_session_tag_ids(transaction),
        charge_point_pk=transaction.charge_point_id,
        connector_pk=transaction.connector_id,
    )
    if not candidates:  # none at either moment: nothing to choose between
        return None
    registered = candidates[0].charge_point_registered_at
    at = now if registered is not None and start < registered - skew else start
    return _most_specific(candidates, at=at)


def _parent_tag_id(transaction: Transaction) -> int | None:
    return transaction.tag.parent_id if transaction.tag_id else None


def transaction_register_readings(
    *, transaction_ids: Iterable[int]
) -> dict[int, list[tuple[datetime, Decimal]]]:
    """Energy.Active.Import.Register readings (absolute Wh) per transaction, by time.

    Only readings of the whole meter count: per-phase registers (with a
    phase) would each show a fraction of the energy.
    """
    # Sessions whose raw samples the retention sweep deleted: the readings their
    # roll-ups keep (the first and last of each interval) stand in for them.
    readings: dict[int, list[tuple[datetime, Decimal]]] = defaultdict(list)
    readings.update(register_readings_of(transaction_pks=transaction_ids))
    return readings


def transaction_settled_q() -> Q:
    """Ended sessions billing is done with, whose raw meter values may age out.

    Invoiced, voided by an operator, refused (never billed), or (unless zero
    energy is invoiced) without energy; never one with an unresolved billing
    failure (an operator may still retry it). Running and disputed sessions
    are excluded by the retention sweep itself.
    """
    done = Q(invoice__isnull=False) | Q(dispute_resolution=DisputeResolution.VOIDED)
    done |= Q(status=SessionStatus.REFUSED)
    if not settings.BILLING_INVOICE_ZERO_ENERGY:
        done |= Q(energy_wh__lte=0)
    failing = BillingFailure.objects.filter(transaction=OuterRef("pk"), resolved_at__isnull=True)
    return done & ~Exists(failing)


def transaction_session_facts(*, transaction: Transaction) -> SessionFacts:
    """What pricing needs: times, the energy billed, the station's zone, the readings."""
    readings = transaction_register_readings(transaction_ids=[transaction.pk])[transaction.pk]
    station = transaction.charge_point.station
    return SessionFacts(
        start=transaction.start_timestamp,
        stop=transaction.stop_timestamp,
        energy_wh=transaction.energy_wh or 0,
        time_zone=station.time_zone if station else "UTC",
        readings=tuple((at, wh - transaction.meter_start) for at, wh in readings),
    )


def transaction_cost_so_far(*, transaction_pk: int, at: datetime | None = None) -> Bill | None:
    """What a session costs so far at the prices fixed at its start, without invoicing it.

    An ended session is priced exactly as its invoice will be. A running one
    is priced for its energy so far (the latest register reading) charged
    until `at` (default now), spread evenly over the time: one query, cheap
    enough to answer every TransactionEvent with. None: no such session, no
    prices fixed on it, or prices that cannot be applied (a PricingError).
    """
    session = (
        transaction_list()
        .select_related("charge_point__station")
        .filter(pk=transaction_pk, tariff_snapshot__isnull=False)
        .first()
    )
    if session is None:
        return None
    if session.is_open:
        station = session.charge_point.station
        facts = SessionFacts(
            start=session.start_timestamp,
            stop=max(at or timezone.now(), session.start_timestamp),
            energy_wh=transaction_energy_so_far(transaction=session) or 0,
            time_zone=station.time_zone if station else "UTC",
        )
    else:
        facts = transaction_session_facts(transaction=session)
    try:
        return price_session(Terms.from_snapshot(session.tariff_snapshot), facts)
    except PricingError:
        return None


INVOICE_CSV_HEADER = (
    "number",
    "issued_at",
    "transaction",
    "station",
    "charge_point",
    "id_tag",
    "start",
    "stop",
    "energy_wh",
    "currency",
    "net_total",
    "vat_total",
    "total",
)

TRANSACTION_CSV_HEADER = (
    "transaction",
    "station",
    "charge_point",
    "connector",
    "id_tag",
    "start",
    "stop",
    "meter_start",
    "meter_stop",
    "energy_wh",
    "energy_source",
    "stop_reason",
    "stale_since",
    "invoice",
    "total",
    "currency",
)


def _export_filter(
    field: str, start: datetime | None, end: datetime | None, station_id: int | None
) -> Q:
    """Rows whose `field` lies in [start, end), at the station if given."""
    query = Q()
    if start is not None:
        query &= Q(**{f"{field}__gte": start})
    if end is not None:
        query &= Q(**{f"{field}__lt": end})
    if station_id is not None:
        prefix = "transaction__" if field == "issued_at" else ""
        query &= Q(**{f"{prefix}charge_point__station_id": station_id})
    return query


def keyset_iterate(queryset: QuerySet, *, field: str, batch: int = 1000) -> Iterator:
    """The rows of `queryset` (models or `.values()` dicts) in (field, pk) order, read
    `batch` at a time by position.

    Each batch is a query of its own that starts where the last one ended (the
    ordering's index finds it), so a month of a large network streams in
    constant memory, holds no server-side cursor or transaction open between
    batches, and may be read from any thread (an ASGI response streams from one).
    """
    ordered = queryset.order_by(field, "pk")
    last = None
    while True:
        page = ordered
        if last is not None:
            value, key = last
            page = ordered.filter(
                Q(**{f"{field}__gte": value}),
                Q(**{f"{field}__gt": value}) | Q(**{field: value, "pk__gt": key}),
            )
        rows = list(page[:batch])
        yield from rows
        if len(rows) < batch:
            return
        row = rows[-1]
        last = (row[field], row["pk"]) if isinstance(row, dict) else (getattr(row, field), row.pk)


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def _blank(value) -> object:
    return "" if value is None else value


# Plain values, not model instances: building a session, its charge point, station,
# connector and invoice (JSON fields decoded) for each row cost most of an export's time.
INVOICE_EXPORT_VALUES = (
    "pk",
    "number",
    "issued_at",
    "transaction_id",
    "transaction__charge_point__station__name",
    "transaction__charge_point__charge_point_id",
    "transaction__id_tag",
    "transaction__start_timestamp",
    "transaction__stop_timestamp",
    "energy_wh",
    "currency",
    "net_total",
    "vat_total",
    "total",
)
TRANSACTION_EXPORT_VALUES = (
    "pk",
    "charge_point__station__name",
    "charge_point__charge_point_id",
    "connector__connector_id",
    "id_tag",
    "start_timestamp",
    "stop_timestamp",
    "meter_start",
    "meter_stop",
    "energy_wh",
    "energy_source",
    "stop_reason",
    "stale_since",
    "invoice__number",
    "invoice__total",
    "invoice__currency",
)


def invoice_export_rows(
    *, start: datetime | None = None, end: datetime | None = None, station_id: int | None = None
) -> Iterator[tuple]:
    """Invoices issued in [start, end) (at a station), oldest first, as CSV rows."""
    invoices = Invoice.objects.filter(_export_filter("issued_at", start, end, station_id))
    for row in keyset_iterate(invoices.values(*INVOICE_EXPORT_VALUES), field="issued_at"):
        yield (
            row["number"],
            row["issued_at"].isoformat(),
            row["transaction_id"],
            row["transaction__charge_point__station__name"] or "",
            row["transaction__charge_point__charge_point_id"],
            row["transaction__id_tag"],
            _iso(row["transaction__start_timestamp"]),
            _iso(row["transaction__stop_timestamp"]),
            row["energy_wh"],
            row["currency"],
            row["net_total"],
            row["vat_total"],
            row["total"],
        )


def transaction_export_rows(
    *, start: datetime | None = None, end: datetime | None = None, station_id: int | None = None
) -> Iterator[tuple]:
    """Sessions started in [start, end) (at a station), oldest first, as CSV rows."""
    sessions = Transaction.objects.filter(_export_filter("start_timestamp", start, end, station_id))
    for row in keyset_iterate(sessions.values(*TRANSACTION_EXPORT_VALUES), field="start_timestamp"):
        yield (
            row["pk"],
            row["charge_point__station__name"] or "",
            row["charge_point__charge_point_id"],
            row["connector__connector_id"],
            row["id_tag"],
            _iso(row["start_timestamp"]),
            _iso(row["stop_timestamp"]),
            row["meter_start"],
            _blank(row["meter_stop"]),
            _blank(row["energy_wh"]),
            row["energy_source"],
            row["stop_reason"],
            _iso(row["stale_since"]),
            row["invoice__number"] or "",
            _blank(row["invoice__total"]),
            row["invoice__currency"] or "",
        )

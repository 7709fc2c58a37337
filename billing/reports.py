"""Reads for the console's money figures: revenue, energy delivered, costs so far.

Everything here is computed in a bounded number of queries, whatever the
number of invoices, sessions or stations: totals are aggregated by the
database, and what has to be priced in Python (a running session's cost so
far) is priced from rows read in one go. Periods are half-open [start, end)
and days are days of the time zone the caller passes (the console uses
the operator's, settings.TIME_ZONE).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    DecimalField,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Floor, Greatest, TruncDate
from django.utils import timezone

from stations.choices import DisputeResolution, SessionStatus
from stations.models import Transaction
from stations.selectors import transaction_disputed_q, transaction_energy_so_far, transaction_list

from .models import Invoice, StationEnergyHour
from .pricing import Bill, PricingError, SessionFacts, Terms, price_session
from .selectors import transaction_register_readings

ZERO = Decimal("0")
CENTS = Decimal("0.01")  # the scale of Invoice's amounts (SQLite's SUM forgets it)
MONEY = DecimalField(max_digits=14, decimal_places=2)


# --- Periods --------------------------------------------------------------------


def day_start(*, day: date, zone: ZoneInfo) -> datetime:
    """Midnight starting `day` in `zone` (the first instant of a day without midnight)."""
    return datetime.combine(day, time.min, tzinfo=zone)


def period_today(*, now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    today = now.astimezone(zone).date()
    return day_start(day=today, zone=zone), day_start(day=today + timedelta(days=1), zone=zone)


def month_first_day(day: date, months_ahead: int = 0) -> date:
    """The first day of `day`'s month, or of a month after it."""
    index = day.year * 12 + day.month - 1 + months_ahead
    return date(index // 12, index % 12 + 1, 1)


def period_month(*, month: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[first midnight of `month`, first midnight of the next month) in `zone`."""
    first = month_first_day(month)
    return day_start(day=first, zone=zone), day_start(day=month_first_day(first, 1), zone=zone)


# --- Revenue: what the invoices of a period add up to ---------------------------


@dataclass(frozen=True)
class CurrencyTotal:
    """The invoices of one currency in a period (gross `total` is what drivers pay)."""

    currency: str
    invoices: int
    net: Decimal
    vat: Decimal
    total: Decimal
    energy_wh: int

    def as_json(self) -> dict:
        return {
            "currency": self.currency,
            "invoices": self.invoices,
            "net": str(self.net),
            "vat": str(self.vat),
            "total": str(self.total),
            "energy_wh": self.energy_wh,
        }


def invoice_list_issued(
    *, start: datetime, end: datetime, station_id: int | None = None
) -> QuerySet[Invoice]:
    """Invoices issued in [start, end), at one station if given (index invoice_issued_id_idx)."""
    invoices = Invoice.objects.filter(issued_at__gte=start, issued_at__lt=end)
    if station_id is not None:
        invoices = invoices.filter(transaction__charge_point__station_id=station_id)
    return invoices


def _sums() -> dict:
    return {
        "invoices": Count("pk"),
        "net": Coalesce(Sum("net_total"), Value(ZERO), output_field=MONEY),
        "vat": Coalesce(Sum("vat_total"), Value(ZERO), output_field=MONEY),
        "total": Coalesce(Sum("total"), Value(ZERO), output_field=MONEY),
        "energy": Coalesce(Sum("energy_wh"), Value(0), output_field=BigIntegerField()),
    }


def _amount(value) -> Decimal:
    return Decimal(str(value)).quantize(CENTS)


def _currency_total(row: dict) -> CurrencyTotal:
    return CurrencyTotal(
        currency=row["currency"],
        invoices=row["invoices"],
        net=_amount(row["net"]),
        vat=_amount(row["vat"]),
        total=_amount(row["total"]),
        energy_wh=int(row["energy"]),
    )


def revenue_totals(
    *, start: datetime, end: datetime, station_id: int | None = None
) -> list[CurrencyTotal]:
    """The invoices issued in [start, end) summed per currency, by currency (one query).

    Amounts of different currencies are never added up: an operator with
    stations in two countries sees two totals.
    """
    rows = (
        invoice_list_issued(start=start, end=end, station_id=station_id)
        .order_by()
        .values("currency")
        .annotate(**_sums())
        .order_by("currency")
    )
    return [_currency_total(row) for row in rows]


@dataclass(frozen=True)
class DayRevenue:
    day: date
    currency: str
    invoices: int
    total: Decimal
    energy_wh: int


def revenue_by_day(
    *, start: datetime, end: datetime, zone: ZoneInfo, station_id: int | None = None
) -> list[DayRevenue]:
    """Invoices of [start, end) per local day (in `zone`) and currency, oldest first."""
    rows = (
        invoice_list_issued(start=start, end=end, station_id=station_id)
        .order_by()
        .annotate(day=TruncDate("issued_at", tzinfo=zone))
        .values("day", "currency")
        .annotate(**_sums())
        .order_by("day", "currency")
    )
    return [
        DayRevenue(
            day=row["day"],
            currency=row["currency"],
            invoices=row["invoices"],
            total=_amount(row["total"]),
            energy_wh=int(row["energy"]),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class StationRevenue:
    """One station's month: its invoices per currency and the energy it delivered."""

    station_id: int | None
    station_name: str
    totals: tuple[CurrencyTotal, ...] = ()
    energy_delivered_wh: int = 0


def revenue_by_station(*, start: datetime, end: datetime) -> list[StationRevenue]:
    """Per station (None: charge points without a station): invoices and energy delivered.

    Two queries: the invoices grouped by station and currency, and the
    hourly energy roll-up (billing.StationEnergyHour) grouped by station.
    Ordered by station name.
    """
    invoices = (
        invoice_list_issued(start=start, end=end)
        .order_by()
        .values(
            "currency",
            station_id=F("transaction__charge_point__station_id"),
            station_name=F("transaction__charge_point__station__name"),
        )
        .annotate(**_sums())
    )
    energy = (
        StationEnergyHour.objects.filter(hour__gte=start, hour__lt=end)
        .order_by()
        .values("station_id", station_name=F("station__name"))
        .annotate(energy=Sum("energy_wh"))
    )
    names: dict[int | None, str] = {}
    totals: dict[int | None, list[CurrencyTotal]] = defaultdict(list)
    delivered: dict[int | None, int] = defaultdict(int)
    for row in invoices:
        names[row["station_id"]] = row["station_name"] or ""
        totals[row["station_id"]].append(_currency_total(row))
    for row in energy:
        names[row["station_id"]] = row["station_name"] or ""
        delivered[row["station_id"]] = int(row["energy"] or 0)
    return sorted(
        (
            StationRevenue(
                station_id=station_id,
                station_name=name,
                totals=tuple(sorted(totals[station_id], key=lambda t: t.currency)),
                energy_delivered_wh=delivered[station_id],
            )
            for station_id, name in names.items()
        ),
        key=lambda row: (row.station_id is None, row.station_name.lower(), row.station_id or 0),
    )


def energy_delivered_by_day(
    *, start: datetime, end: datetime, zone: ZoneInfo, station_id: int | None = None
) -> dict[date, int]:
    """Energy delivered per local day from the hourly roll-up (full hours only, lags ≤ 1 h).

    Sessions spanning midnight are split where their readings say, as the
    roll-up splits them by hour. Charge points without a station are not
    counted (the roll-up is per station).
    """
    rows = StationEnergyHour.objects.filter(hour__gte=start, hour__lt=end)
    if station_id is not None:
        rows = rows.filter(station_id=station_id)
    by_day = (
        rows.order_by()
        .annotate(day=TruncDate("hour", tzinfo=zone))
        .values("day")
        .annotate(energy=Sum("energy_wh"))
        .order_by("day")
    )
    return {row["day"]: int(row["energy"] or 0) for row in by_day}


# --- Energy delivered: finished sessions plus what running ones delivered so far ---


def _in_doubt() -> Q:
    """Figures not counted: waiting for a decision on a dispute, or voided."""
    return transaction_disputed_q() | Q(dispute_resolution=DisputeResolution.VOIDED)


def running_energy_so_far_wh(*, station_id: int | None = None) -> int:
    """What the running sessions delivered so far, summed by the database (one query).

    transaction_energy_so_far in SQL: the latest register reading (kWh
    converted) minus meterStart, never negative, nothing before the first
    reading.
    """
    running = transaction_list().filter(status=SessionStatus.RUNNING).exclude(_in_doubt())
    if station_id is not None:
        running = running.filter(charge_point__station_id=station_id)
    register_wh = Case(
        When(live_register_unit="kWh", then=F("live_register_value") * Value(1000)),
        default=F("live_register_value"),
        output_field=DecimalField(max_digits=24, decimal_places=6),
    )
    so_far = Greatest(
        Cast(Floor(register_wh), BigIntegerField()) - F("meter_start"),
        Value(0),
        output_field=BigIntegerField(),
    )
    total = running.annotate(so_far=so_far).aggregate(total=Sum("so_far"))["total"]
    return int(total or 0)


def energy_delivered_wh(*, since: datetime, station_id: int | None = None) -> int:
    """Energy of the sessions finished since `since` plus what running sessions delivered.

    A running session that began before `since` counts whole: splitting it
    would read every meter value of every session at each refresh. Figures
    in doubt (disputed and waiting, or voided) are left out; so are refused
    starts, which never charged.
    """
    return energy_delivered_since_wh(since=(since,), station_id=station_id)[0]


def energy_delivered_since_wh(
    *, since: Sequence[datetime], station_id: int | None = None
) -> list[int]:
    """energy_delivered_wh for several starts at once (today and this month), in their order.

    Two queries whatever the number of starts: the sessions finished since
    the earliest, summed once per start (index tx_stop_energy_idx answers
    it without reading the table), and the running sessions, counted once.
    """
    if not since:
        return []
    finished = (
        Transaction.objects.filter(stop_timestamp__gte=min(since))
        .exclude(status__in=(SessionStatus.RUNNING, SessionStatus.REFUSED))
        .exclude(_in_doubt())
    )
    if station_id is not None:
        finished = finished.filter(charge_point__station_id=station_id)
    totals = finished.aggregate(
        **{
            f"since_{index}": Sum("energy_wh", filter=Q(stop_timestamp__gte=start))
            for index, start in enumerate(since)
        }
    )
    running = running_energy_so_far_wh(station_id=station_id)
    return [int(totals[f"since_{index}"] or 0) + running for index in range(len(since))]


# --- Costs so far ---------------------------------------------------------------------


def transaction_cost_estimate(
    *,
    transaction: Transaction,
    at: datetime,
    readings: Sequence[tuple[datetime, Decimal]] = (),
) -> Bill | None:
    """Price a loaded session without a query (billing.selectors.transaction_cost_so_far's rules).

    The session must come from stations.selectors.transaction_list (its
    latest register reading annotated) with its charge point's station
    loaded. A running session is priced for its energy so far until `at`;
    an ended one with its final energy and `readings` (absolute Wh, as
    transaction_register_readings gives them). None: no prices fixed at
    the start, or prices that cannot be applied.
    """
    snapshot = transaction.tariff_snapshot
    if not snapshot or not isinstance(snapshot, dict):
        return None
    station = transaction.charge_point.station
    zone = station.time_zone if station else "UTC"
    if transaction.is_open:
        facts = SessionFacts(
            start=transaction.start_timestamp,
            stop=max(at, transaction.start_timestamp),
            energy_wh=transaction_energy_so_far(transaction=transaction) or 0,
            time_zone=zone,
        )
    else:
        facts = SessionFacts(
            start=transaction.start_timestamp,
            stop=transaction.stop_timestamp or transaction.start_timestamp,
            energy_wh=transaction.energy_wh or 0,
            time_zone=zone,
            readings=tuple((moment, wh - transaction.meter_start) for moment, wh in readings),
        )
    try:
        return price_session(Terms.from_snapshot(snapshot), facts)
    except (PricingError, KeyError, TypeError, ValueError, ArithmeticError):
        # A snapshot that cannot be priced: the invoice run reports it as a
        # billing failure; a list must still show the other sessions.
        return None


def transaction_costs_so_far(
    *, transactions: Iterable[Transaction], at: datetime | None = None
) -> dict[int, Bill | None]:
    """Costs of many sessions at once: no query for running ones, one for all ended ones.

    `transactions` come from stations.selectors.transaction_list with
    `charge_point__station` loaded (running_sessions does so).
    """
    at = at or timezone.now()
    sessions = list(transactions)
    ended = [t.pk for t in sessions if not t.is_open and t.tariff_snapshot]
    readings = transaction_register_readings(transaction_ids=ended) if ended else {}
    return {
        t.pk: transaction_cost_estimate(transaction=t, at=at, readings=readings.get(t.pk, ()))
        for t in sessions
    }


@dataclass(frozen=True)
class RunningSession:
    transaction: Transaction
    energy_wh: int | None
    duration: timedelta
    cost: Bill | None = field(default=None)


def running_sessions(*, limit: int, now: datetime | None = None) -> list[RunningSession]:
    """The newest `limit` running sessions with energy, duration and cost so far (one query)."""
    now = now or timezone.now()
    sessions = list(
        transaction_list()
        .filter(status=SessionStatus.RUNNING)
        .select_related("charge_point__station")
        .order_by("-start_timestamp", "-pk")[:limit]
    )
    costs = transaction_costs_so_far(transactions=sessions, at=now)
    return [
        RunningSession(
            transaction=session,
            energy_wh=transaction_energy_so_far(transaction=session),
            duration=max(now - session.start_timestamp, timedelta(0)),
            cost=costs[session.pk],
        )
        for session in sessions
    ]

"""Reads of the stations app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import (
    Case,
    Exists,
    ExpressionWrapper,
    FloatField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import ACos, Cast, Cos, Greatest, Least, Lower, Radians, Sin, Upper
from django.db.models.lookups import In

from drivers.models import IdTag

from .choices import ConnectorStatus, RegistrationStatus, SessionStatus
from .models import (
    ChargePoint,
    ChargingProfile,
    ChargingSchedulePeriod,
    CompatibilityProfile,
    Connector,
    MeterValue,
    MeterValueRollup,
    Reservation,
    SessionMeterRollup,
    Station,
    Transaction,
)
from .services.meter_values import ENERGY_REGISTER

EARTH_RADIUS_KM = 6371.0088
TIMESERIES_MAX_POINTS = 10_000
# A remote start can begin on these (Preparing: the cable is already plugged in).
STARTABLE_CONNECTOR_STATUSES = (ConnectorStatus.AVAILABLE, ConnectorStatus.PREPARING)


def chargepoint_get(*, charge_point_id: str) -> ChargePoint | None:
    return ChargePoint.objects.filter(charge_point_id=charge_point_id).first()


def chargepoint_same_identity(*, charge_point_id: str) -> list[ChargePoint]:
    """Charge points whose id equals this one ignoring case, as operators read ids.

    One at most, but for look-alike pairs stored before ids ignored case.
    LOWER(charge_point_id) is what the unique index covers: one index look-up.
    """
    return list(
        ChargePoint.objects.annotate(canonical_id=Lower("charge_point_id"))
        .filter(canonical_id=charge_point_id.lower())
        .order_by("charge_point_id")
    )


# --- API reads -----------------------------------------------------------------


def station_list() -> QuerySet[Station]:
    """Stations with their charge points and connectors, for listing in one go."""
    return Station.objects.prefetch_related(
        Prefetch(
            "charge_points",
            queryset=ChargePoint.objects.order_by("charge_point_id").prefetch_related(
                Prefetch("connectors", queryset=Connector.objects.order_by("connector_id"))
            ),
        )
    )


def station_annotate_distance(
    queryset: QuerySet[Station], *, latitude: float, longitude: float
) -> QuerySet[Station]:
    """Add `distance_km` (great-circle, spherical Earth) from a point to each station."""
    lat, lng = Radians(Value(latitude)), Radians(Value(longitude))
    station_lat = Radians(Cast("latitude", FloatField()))
    station_lng = Radians(Cast("longitude", FloatField()))
    # Clamped: rounding may push the cosine of a zero distance just past 1.
    cosine = Sin(lat) * Sin(station_lat) + Cos(lat) * Cos(station_lat) * Cos(station_lng - lng)
    clamped = Least(Greatest(cosine, Value(-1.0)), Value(1.0))
    return queryset.filter(latitude__isnull=False, longitude__isnull=False).annotate(
        distance_km=ExpressionWrapper(
            ACos(clamped) * Value(EARTH_RADIUS_KM), output_field=FloatField()
        )
    )


def station_filter_available(queryset: QuerySet[Station]) -> QuerySet[Station]:
    """Stations with a connector free to charge on an online charge point."""
    free = Connector.objects.filter(
        charge_point__station=OuterRef("pk"),
        charge_point__is_online=True,
        connector_id__gt=0,
        status__in=STARTABLE_CONNECTOR_STATUSES,
    )
    return queryset.filter(Exists(free))


def chargepoint_list() -> QuerySet[ChargePoint]:
    return ChargePoint.objects.select_related("station").prefetch_related(
        Prefetch("connectors", queryset=Connector.objects.order_by("connector_id"))
    )


def transaction_owned_q(*, user, prefix: str = "") -> Q:
    """Transactions of a driver: by the id tag record, or a tag value of theirs (any case).

    `prefix` is the path to the transaction from the filtered model
    (e.g. "transaction__" for invoices).
    """
    # The driver's few tags first (one query), then two indexed conditions: an OR of a join
    # and a correlated subquery read every session of the network to find a driver's 20.
    own_tags = list(IdTag.objects.filter(driver__user=user).values_list("pk", Upper("id_tag")))
    if not own_tags:
        return Q(pk__in=[])
    tag_pks = [pk for pk, _value in own_tags]
    values = sorted({value for _pk, value in own_tags})
    return Q(**{f"{prefix}tag_id__in": tag_pks}) | Q(In(Upper(f"{prefix}id_tag"), values))


def transaction_disputed_q() -> Q:
    """Sessions waiting for an operator's decision: Transaction.is_disputed, in SQL.

    The same condition as the partial index tx_disputed_idx, so that counting
    and listing them stays cheap however many sessions there are.
    """
    return Q(disputed_at__isnull=False, dispute_resolution="")


def transaction_open_owned_exists(
    *, user_id: int, transaction_pk: int, charge_point_pk: int
) -> bool:
    """Whether the transaction really runs, on that charge point, and is the driver's own."""
    return Transaction.objects.filter(
        transaction_owned_q(user=user_id),
        pk=transaction_pk,
        charge_point_id=charge_point_pk,
        status=SessionStatus.RUNNING,
    ).exists()


def connector_startable_exists(*, charge_point_pk: int, connector_id: int | None = None) -> bool:
    """Whether a connector (that one, if given) is free for a remote start.

    Never on a charge point the operator has not accepted: a driver's tag
    would be sent to a stranger's socket.
    """
    free = Connector.objects.filter(
        charge_point_id=charge_point_pk,
        charge_point__registration_status=RegistrationStatus.ACCEPTED,
        connector_id__gt=0,
        status__in=STARTABLE_CONNECTOR_STATUSES,
    )
    if connector_id is not None:
        free = free.filter(connector_id=connector_id)
    return free.exists()


def transaction_list(*, user=None) -> QuerySet[Transaction]:
    """Transactions with what the API shows; only a driver's own when `user` is given.

    Each row carries the latest energy register reading (`live_register_*`),
    from which an open session's energy so far is computed without a query
    per row (see transaction_energy_so_far).
    """
    queryset = Transaction.objects.select_related("charge_point", "connector").annotate(
        **_latest_register_annotations()
    )
    if user is not None:
        if not user.is_authenticated:
            return queryset.none()
        queryset = queryset.filter(transaction_owned_q(user=user))
    return queryset


def _latest_register_annotations() -> dict:
    latest = MeterValue.objects.filter(
        transaction=OuterRef("pk"),
        measurand=ENERGY_REGISTER,
        numeric_value__isnull=False,
        unit__in=("Wh", "kWh"),
    ).order_by("-timestamp", "phase", "-id")  # the phase-less total first
    # Only a running session needs it (an ended one has its energy): ten million ended
    # sessions skip the subquery, also those a deep page's OFFSET passes over.
    running = Q(status=SessionStatus.RUNNING)
    return {
        "live_register_value": Case(
            When(running, then=Subquery(latest.values("numeric_value")[:1]))
        ),
        "live_register_unit": Case(When(running, then=Subquery(latest.values("unit")[:1]))),
    }


def transaction_energy_so_far(*, transaction: Transaction) -> int | None:
    """Energy in Wh: the final figure once stopped, else the latest register reading
    minus meterStart (None before the first reading).

    Uses the annotation of transaction_list when present, else reads it.
    """
    if not transaction.is_open:
        return transaction.energy_wh
    if not hasattr(transaction, "live_register_value"):
        latest = (
            MeterValue.objects.filter(
                transaction=transaction,
                measurand=ENERGY_REGISTER,
                numeric_value__isnull=False,
                unit__in=("Wh", "kWh"),
            )
            .order_by("-timestamp", "phase", "-id")
            .values("numeric_value", "unit")
            .first()
        ) or {"numeric_value": None, "unit": None}
        transaction.live_register_value = latest["numeric_value"]
        transaction.live_register_unit = latest["unit"]
    value = transaction.live_register_value
    if value is None:
        return None
    wh = Decimal(value) * 1000 if transaction.live_register_unit == "kWh" else Decimal(value)
    return max(0, int(wh) - transaction.meter_start)


def metervalue_list(*, transaction: Transaction) -> QuerySet[MeterValue]:
    return MeterValue.objects.filter(transaction=transaction).order_by("timestamp", "id")


@dataclass(frozen=True)
class TimeSeries:
    measurand: str
    phase: str
    unit: str
    points: list[tuple[datetime, float]]
    # None: every point is a raw sample; else some or all points stand for an
    # interval of this many seconds (its last reading, or its average).
    interval_seconds: int | None = None


def transaction_timeseries(
    *, transaction: Transaction, measurand: str = ENERGY_REGISTER, phase: str = ""
) -> TimeSeries:
    """One measurand of a session over time, oldest first, for a chart.

    Energy registers are given in Wh as energy delivered since meterStart
    (the figure `energy_wh` shows), kWh readings converted; other measurands
    keep their unit. Non-numeric readings are left out. Raw samples while
    they exist; once the retention sweep deleted them, the session's
    roll-ups (an energy register's last reading of each interval, another
    measurand's average at the interval's start). A session with more than
    TIMESERIES_MAX_POINTS raw samples is given from its roll-ups as far as
    they reach and raw after that; without roll-ups, its latest
    TIMESERIES_MAX_POINTS samples. Four queries at most, whatever the size.
    """
    is_energy = measurand.startswith("Energy.") and measurand.endswith(".Register")
    state = SessionMeterRollup.objects.filter(pk=transaction.pk).first()
    if state is not None and state.raw_deleted:
        rollups = _rollup_points(transaction, measurand, phase, until=None)
        return _series(transaction, measurand, phase, is_energy, [], rollups, state)
    rows = _raw_points(transaction, measurand, phase, since=None)
    if len(rows) <= TIMESERIES_MAX_POINTS or state is None or state.rolled_up_until is None:
        return _series(transaction, measurand, phase, is_energy, rows[-TIMESERIES_MAX_POINTS:], [])
    until = state.rolled_up_until
    rollups = _rollup_points(transaction, measurand, phase, until=until)
    rows = _raw_points(transaction, measurand, phase, since=until)[-TIMESERIES_MAX_POINTS:]
    return _series(transaction, measurand, phase, is_energy, rows, rollups, state)


def _raw_points(transaction, measurand, phase, *, since) -> list[tuple]:
    """The latest TIMESERIES_MAX_POINTS + 1 samples (one more: to tell a long session), by time."""
    rows = MeterValue.objects.filter(
        transaction=transaction, measurand=measurand, phase=phase, numeric_value__isnull=False
    )
    if since is not None:
        rows = rows.filter(timestamp__gte=since)
    rows = list(
        rows.order_by("-timestamp", "-id").values_list("timestamp", "numeric_value", "unit")[
            : TIMESERIES_MAX_POINTS + 1
        ]
    )
    rows.reverse()
    return rows


def _rollup_points(transaction, measurand, phase, *, until) -> list[tuple]:
    """Per interval (last reading at, last reading, interval start, average, unit), by time."""
    rollups = MeterValueRollup.objects.filter(
        transaction=transaction, measurand=measurand, phase=phase
    )
    if until is not None:
        rollups = rollups.filter(interval_start__lt=until)
    return list(
        rollups.order_by("interval_start", "unit").values_list(
            "last_at", "last_value", "interval_start", "avg_value", "unit"
        )[:TIMESERIES_MAX_POINTS]
    )


def _series(transaction, measurand, phase, is_energy, rows, rollups, state=None) -> TimeSeries:
    interval = state.interval_seconds if rollups and state is not None else None
    if is_energy:
        # A register reading, raw or an interval's last, is energy since meterStart.
        readings = [(last_at, value, unit) for last_at, value, _, _, unit in rollups] + rows
        points = [
            (timestamp, float(value * 1000 if unit == "kWh" else value) - transaction.meter_start)
            for timestamp, value, unit in readings
            if unit in ("Wh", "kWh")
        ]
        return TimeSeries(measurand, phase, "Wh", points, interval)
    averages = [(start, avg, unit) for _, _, start, avg, unit in rollups]
    readings = averages + rows
    unit = readings[-1][2] if readings else ""
    points = [(at, float(value)) for at, value, row_unit in readings if row_unit == unit]
    return TimeSeries(measurand, phase, unit, points, interval)


@dataclass(frozen=True)
class CompatibilityRules:
    """Every compatibility profile, arranged to pick a charge point's in memory.

    A charge point uses the profile set on it, else the one whose vendor and
    model match what it reports, a model-specific profile before a
    vendor-wide one, then by name; vendor and model compare without case.
    """

    # Charge point pk -> the profile set on it.
    assigned: dict[int, CompatibilityProfile]
    # Upper-case vendor -> its profiles in the order they are tried.
    by_vendor: dict[str, tuple[CompatibilityProfile, ...]]

    def profile_for(
        self, *, charge_point_pk: int, vendor: str, model: str
    ) -> CompatibilityProfile | None:
        own = self.assigned.get(charge_point_pk)
        if own is not None:
            return own
        model = model.upper()
        candidates = self.by_vendor.get(vendor.upper(), ()) if vendor else ()
        return next((p for p in candidates if p.model.upper() in ("", model)), None)


def compatibility_rules_load() -> CompatibilityRules:
    """Read the rules at once (two queries), to match many charge points against."""
    profiles = {profile.pk: profile for profile in CompatibilityProfile.objects.all()}
    assigned = ChargePoint.objects.filter(compatibility_profile__isnull=False).values_list(
        "pk", "compatibility_profile_id"
    )
    by_vendor: dict[str, list[CompatibilityProfile]] = {}
    for profile in profiles.values():
        if profile.vendor:
            by_vendor.setdefault(profile.vendor.upper(), []).append(profile)
    return CompatibilityRules(
        # A profile made between the two reads is picked up at the next load.
        assigned={pk: profiles[id_] for pk, id_ in assigned if id_ in profiles},
        by_vendor={
            vendor: tuple(sorted(candidates, key=lambda p: (not p.model, p.name)))
            for vendor, candidates in by_vendor.items()
        },
    )


def reservation_list(*, user=None) -> QuerySet[Reservation]:
    """All reservations, or a driver's: for one of their tags (any case) or made by them."""
    queryset = Reservation.objects.select_related("charge_point")
    if user is None:
        return queryset
    if not user.is_authenticated:
        return queryset.none()
    own_tag_values = IdTag.objects.alias(id_tag_upper=Upper("id_tag")).filter(
        driver__user=user, id_tag_upper=Upper(OuterRef("id_tag"))
    )
    return queryset.filter(Q(requested_by=user) | Q(Exists(own_tag_values)))


def chargingprofile_list() -> QuerySet[ChargingProfile]:
    return ChargingProfile.objects.select_related("charge_point").prefetch_related(
        Prefetch("periods", queryset=ChargingSchedulePeriod.objects.order_by("start_period"))
    )


def connector_list() -> QuerySet[Connector]:
    """Every connector with its charge point, in the order operators read them."""
    return Connector.objects.select_related("charge_point").order_by(
        "charge_point__charge_point_id", "connector_id"
    )

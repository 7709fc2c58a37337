"""Price before charging: what a session started now at a connector would cost.

A quote names the tariff that a session started now would have fixed on it
(billing.selectors.tariff_applicable: the choice tariff_at_start makes for a
session starting now), its prices as the snapshot keeps them, the prices of
the next 24 hours cut at the station's time-of-day periods and clock
changes, and an estimate for an energy and a duration priced by
pricing.price_session exactly as the invoice of such a session would be.

Whose tariff: a visitor gets the public one (what a tag without a customer
group gets); a driver the one of their own id tag (one they name, else
among their usable tags the one whose tariff is most specific, e.g. their
fleet's); an operator may quote for any tag.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from drivers.choices import AuthorizationStatus
from drivers.models import IdTag
from stations.choices import RegistrationStatus
from stations.models import Connector

from .models import TagGroup, Tariff
from .pricing import (
    Bill,
    Component,
    Period,
    SessionFacts,
    Terms,
    price_session,
    price_slices,
    zone_get,
)

# The invoice's own cutting of time into price slices: the windows must cut
# exactly where an invoice would (pricing keeps it private to its module).
from .selectors import tariff_applicable, tariff_tag_ids
from .services import tariff_snapshot

HORIZON = timedelta(hours=24)
# A driver with more tags than this is a fleet account: name the tag to quote for.
MAX_DRIVER_TAGS = 50


class QuoteTagError(ValueError):
    """The id tag asked for cannot be quoted for this caller (unknown, or not theirs)."""


@dataclass(frozen=True)
class QuoteLocation:
    """Where the session would run: the connector, its charge point and the local time zone."""

    charge_point_pk: int
    connector_pk: int
    time_zone: str


@dataclass(frozen=True)
class PriceWindow:
    """A stretch of the coming hours with one set of prices (net)."""

    start: datetime
    end: datetime
    period: str | None  # "22:00-06:00"; None: the tariff's own prices
    price_per_kwh: Decimal
    price_per_minute: Decimal


@dataclass(frozen=True)
class PriceComponent:
    """One way a tariff charges, as pricing.Terms defines it (net prices)."""

    component: str  # a pricing.Component
    price: Decimal
    unit: str  # kWh, min, session
    grace_minutes: int | None = None  # idle fee only
    power_threshold_w: int | None = None  # idle fee only


@dataclass(frozen=True)
class Estimate:
    energy_wh: int
    minutes: int
    bill: Bill


@dataclass(frozen=True)
class Quote:
    at: datetime
    time_zone: str
    id_tag: str | None  # the tag quoted for; None: the public tariff
    tariff_id: int | None  # None: no tariff applies (the session would not be invoiced)
    tariff_name: str
    terms: Terms | None
    components: tuple[PriceComponent, ...]
    windows: tuple[PriceWindow, ...]
    estimate: Estimate | None


def quote_location(
    *, charge_point_id: str, connector_id: int, public_only: bool
) -> QuoteLocation | None:
    """The connector of a charge point, by their public ids; None if there is none.

    `public_only`: drivers and visitors see only charge points the operator
    accepted (as the charge point list shows them), at a published station
    or at none (as the map shows them).
    """
    if connector_id < 1:  # connector 0 is the charge point itself: nothing charges there
        return None
    connectors = Connector.objects.filter(
        charge_point__charge_point_id=charge_point_id, connector_id=connector_id
    )
    if public_only:
        connectors = connectors.filter(
            Q(charge_point__station__isnull=True) | Q(charge_point__station__publish=True),
            charge_point__registration_status=RegistrationStatus.ACCEPTED,
        )
    row = connectors.values("pk", "charge_point_id", "charge_point__station__time_zone").first()
    if row is None:
        return None
    return QuoteLocation(
        charge_point_pk=row["charge_point_id"],
        connector_pk=row["pk"],
        time_zone=row["charge_point__station__time_zone"] or "UTC",
    )


def quote_tags(
    *, id_tag: str | None, driver_user_id: int | None, at: datetime
) -> tuple[IdTag, ...]:
    """The id tags to quote for; () for the public tariff.

    - `id_tag` named: that tag (ignoring case), which must be the driver's
      own when `driver_user_id` is given (an operator may name any);
    - a driver without `id_tag`: their usable tags (Accepted, not expired);
    - nobody: none.
    Raises QuoteTagError for a tag that is unknown or not the driver's.
    """
    tags = IdTag.objects.only("pk", "id_tag", "parent_id")
    if id_tag is not None:
        if driver_user_id is not None:
            tags = tags.filter(driver__user_id=driver_user_id)
        tag = tags.filter(id_tag__iexact=id_tag).first()
        if tag is None:
            raise QuoteTagError(
                "not one of your id tags" if driver_user_id is not None else "no such id tag"
            )
        return (tag,)
    if driver_user_id is None:
        return ()
    usable = tags.filter(
        Q(expiry_date__isnull=True) | Q(expiry_date__gt=at),
        driver__user_id=driver_user_id,
        status=AuthorizationStatus.ACCEPTED,
    ).order_by("id_tag")
    return tuple(usable[:MAX_DRIVER_TAGS])


def tariff_quote(
    *,
    location: QuoteLocation,
    tags: Sequence[IdTag],
    at: datetime | None = None,
    energy_wh: int | None = None,
    minutes: int | None = None,
) -> Quote:
    """The quote of a session started at `at` (now) there with one of `tags` (none: public).

    With several tags, the one whose tariff is most specific is chosen (the
    same order tariff_applicable uses); the quote names it. The estimate is
    always given (what is not given counts as 0: with neither, the estimate
    is the fixed part, e.g. a session fee): the energy spread evenly over the
    minutes, charging all the while (no idle time), as the invoice prices a
    session without meter readings.
    Raises pricing.PricingError when the station's time zone is unknown.
    """
    at = at or timezone.now()
    tariff, tag = _tariff_and_tag(location=location, tags=tags, at=at)
    zone = zone_get(location.time_zone)
    if tariff is None:
        return Quote(
            at=at,
            time_zone=location.time_zone,
            id_tag=tag.id_tag if tag else None,
            tariff_id=None,
            tariff_name="",
            terms=None,
            components=(),
            windows=(),
            estimate=None,
        )
    # The prices exactly as a start would fix them (the snapshot the invoice reads).
    terms = Terms.from_snapshot(tariff_snapshot(tariff))
    energy_wh, minutes = energy_wh or 0, minutes or 0
    facts = SessionFacts(
        start=at,
        stop=at + timedelta(minutes=minutes),
        energy_wh=energy_wh,
        time_zone=location.time_zone,
    )
    estimate = Estimate(energy_wh=energy_wh, minutes=minutes, bill=price_session(terms, facts))
    return Quote(
        at=at,
        time_zone=location.time_zone,
        id_tag=tag.id_tag if tag else None,
        tariff_id=tariff.pk,
        tariff_name=tariff.name,
        terms=terms,
        components=price_components(terms),
        windows=price_windows(terms, time_zone=zone, start=at, end=at + HORIZON),
        estimate=estimate,
    )


def _tariff_and_tag(
    *, location: QuoteLocation, tags: Sequence[IdTag], at: datetime
) -> tuple[Tariff | None, IdTag | None]:
    """The most specific tariff for any of the tags, and the (first) tag that gets it.

    tariff_applicable for all the tags at once: each tag's own choice is
    among the candidates of all, so the best of all is the best tag's. A
    group's tariff goes to the first tag in (or under a parent in) that
    group; any other tariff is what every tag gets (none has a group's here).
    """
    tag_ids = {tag.pk: tariff_tag_ids(tag_id=tag.pk, parent_id=tag.parent_id) for tag in tags}
    tariff = tariff_applicable(
        tag_ids=sorted({pk for ids in tag_ids.values() for pk in ids}),
        charge_point_pk=location.charge_point_pk,
        connector_pk=location.connector_pk,
        at=at,
    )
    if not tags:
        return tariff, None
    if tariff is None or tariff.tag_group_id is None:
        return tariff, tags[0]
    members = set(
        TagGroup.id_tags.through.objects.filter(
            taggroup_id=tariff.tag_group_id,
            idtag_id__in=[pk for ids in tag_ids.values() for pk in ids],
        ).values_list("idtag_id", flat=True)
    )
    return tariff, next((tag for tag in tags if members.intersection(tag_ids[tag.pk])), tags[0])


def price_components(terms: Terms) -> tuple[PriceComponent, ...]:
    """The tariff's ways of charging, in the order an invoice lists them.

    Energy always (even at 0: a free tariff says so); the others when they
    charge something. Time-of-day prices are in the price windows.
    """
    components = [PriceComponent(Component.ENERGY, terms.price_per_kwh, "kWh")]
    if terms.bills_time:
        components.append(PriceComponent(Component.TIME, terms.price_per_minute, "min"))
    if terms.idle_price_per_minute > 0:
        components.append(
            PriceComponent(
                Component.IDLE,
                terms.idle_price_per_minute,
                "min",
                grace_minutes=terms.idle_grace_minutes,
                power_threshold_w=terms.idle_power_threshold_w,
            )
        )
    if terms.session_fee > 0:
        components.append(PriceComponent(Component.SESSION_FEE, terms.session_fee, "session"))
    if terms.min_price is not None:
        components.append(PriceComponent(Component.MINIMUM, terms.min_price, "session"))
    if terms.max_price is not None:
        components.append(PriceComponent(Component.MAXIMUM, terms.max_price, "session"))
    return tuple(components)


def price_windows(
    terms: Terms, *, time_zone, start: datetime, end: datetime
) -> tuple[PriceWindow, ...]:
    """The prices from `start` to `end`, one window per stretch of equal period.

    Cut where the invoice cuts a session (pricing's own slicing: the periods'
    wall-clock boundaries, in both folds, and the zone's clock changes), so
    that a night period is an hour longer or shorter on a DST change day
    here exactly as on the invoice. Neighbouring slices of one period are
    one window.
    """
    windows: list[PriceWindow] = []
    for slice_start, slice_end, period in price_slices(terms, time_zone, start, end, end):
        if windows and windows[-1].period == _label(period):
            windows[-1] = PriceWindow(
                windows[-1].start,
                slice_end,
                windows[-1].period,
                windows[-1].price_per_kwh,
                windows[-1].price_per_minute,
            )
            continue
        windows.append(
            PriceWindow(
                start=slice_start,
                end=slice_end,
                period=_label(period),
                price_per_kwh=terms.kwh_price(period),
                price_per_minute=terms.minute_price(period),
            )
        )
    return tuple(windows)


def _label(period: Period | None) -> str | None:
    return None if period is None else period.label

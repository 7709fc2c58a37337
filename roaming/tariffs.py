"""Our tariffs as OCPI 2.2.1 Tariff objects (the Tariffs module, Sender interface).

How billing's price list maps, in the order OCPI reads elements (for each
dimension the first element whose restrictions hold and that prices it):

1. the session fee: a FLAT component, unrestricted;
2. the idle fee: PARKING_TIME per hour, unrestricted (OCPI has no grace
   period: the grace is said in tariff_alt_text);
3. each time-of-day period: ENERGY (per kWh) and TIME (per hour of
   charging) between start_time and end_time, local time; an end before
   the start crosses midnight, as in billing;
4. the tariff's own ENERGY and TIME prices, unrestricted.

Prices are net; `vat` is the tariff's VAT rate. Tariffs reserved for an id
tag group are never published (they are not a roaming driver's).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from billing.models import Tariff

from .formats import number, ocpi_datetime
from .models import TariffVersion

SIXTY = Decimal(60)


def tariff_queryset(*, now: datetime | None = None) -> QuerySet[Tariff]:
    """The tariffs partners see: public, not expired, able to apply; oldest first."""
    now = now or timezone.now()
    return (
        Tariff.objects.filter(tag_group__isnull=True)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .exclude(
            is_default=False,
            station__isnull=True,
            charge_point__isnull=True,
            connector__isnull=True,
        )
        .prefetch_related("periods")
        .order_by("pk")
    )


def tariff_content(tariff: Tariff) -> dict:
    """The OCPI Tariff of one of our tariffs, without last_updated."""
    vat = number(tariff.vat_rate)
    elements = []
    if tariff.session_fee > 0:
        elements.append({"price_components": [_component("FLAT", tariff.session_fee, vat, 1)]})
    if tariff.idle_price_per_minute > 0:
        hourly = tariff.idle_price_per_minute * SIXTY
        elements.append({"price_components": [_component("PARKING_TIME", hourly, vat, 1)]})
    for period in tariff.periods.all():
        components = []
        if period.price_per_kwh is not None:
            components.append(_component("ENERGY", period.price_per_kwh, vat, 1))
        if period.price_per_minute is not None:
            components.append(_component("TIME", period.price_per_minute * SIXTY, vat, 1))
        if components:
            elements.append(
                {
                    "price_components": components,
                    "restrictions": {
                        "start_time": f"{period.start_time:%H:%M}",
                        "end_time": f"{period.end_time:%H:%M}",
                    },
                }
            )
    base = [_component("ENERGY", tariff.price_per_kwh, vat, 1)]
    if tariff.price_per_minute > 0:
        base.append(_component("TIME", tariff.price_per_minute * SIXTY, vat, 1))
    elements.append({"price_components": base})
    content = {
        "country_code": settings.OCPI_COUNTRY_CODE,
        "party_id": settings.OCPI_PARTY_ID,
        "id": str(tariff.pk),
        "currency": tariff.currency,
        "type": "REGULAR",
        "elements": elements,
    }
    if tariff.idle_price_per_minute > 0 and tariff.idle_grace_minutes:
        content["tariff_alt_text"] = [
            {
                "language": "en",
                "text": f"The idle fee starts {tariff.idle_grace_minutes} minutes after "
                "charging ends.",
            }
        ]
    for name, amount in (("min_price", tariff.min_price), ("max_price", tariff.max_price)):
        if amount is not None:
            gross = amount * (1 + tariff.vat_rate / 100)
            content[name] = {"excl_vat": number(amount), "incl_vat": number(round(gross, 2))}
    if tariff.valid_from:
        content["start_date_time"] = ocpi_datetime(tariff.valid_from)
    if tariff.valid_until:
        content["end_date_time"] = ocpi_datetime(tariff.valid_until)
    return content


def _component(kind: str, price: Decimal, vat: float, step_size: int) -> dict:
    # Billing prices energy by the Wh and time by the second: step_size 1.
    return {"type": kind, "price": number(price), "vat": vat, "step_size": step_size}


def tariff_versions_refresh(*, now: datetime | None = None) -> None:
    """Move last_updated of every published tariff whose OCPI form changed since last seen."""
    now = now or timezone.now()
    known = {version.tariff_id: version for version in TariffVersion.objects.all()}
    changed, new = [], []
    for tariff in tariff_queryset(now=now):
        fingerprint = _fingerprint(tariff_content(tariff))
        version = known.get(tariff.pk)
        if version is None:
            new.append(TariffVersion(tariff=tariff, fingerprint=fingerprint, last_updated=now))
        elif version.fingerprint != fingerprint:
            version.fingerprint, version.last_updated = fingerprint, now
            changed.append(version)
    # ignore_conflicts: a parallel request may have recorded the same tariff first.
    TariffVersion.objects.bulk_create(new, ignore_conflicts=True)
    TariffVersion.objects.bulk_update(changed, ["fingerprint", "last_updated"])


def tariff_queryset_dated(
    *, date_from: datetime | None = None, date_to: datetime | None = None
) -> QuerySet[Tariff]:
    """Published tariffs with `ocpi_last_updated`, in the date window (after a refresh)."""
    versions = TariffVersion.objects.filter(tariff=OuterRef("pk")).values("last_updated")[:1]
    queryset = tariff_queryset().annotate(ocpi_last_updated=Subquery(versions))
    if date_from is not None:
        queryset = queryset.filter(ocpi_last_updated__gte=date_from)
    if date_to is not None:
        queryset = queryset.filter(ocpi_last_updated__lt=date_to)
    return queryset


def tariff_object(tariff: Tariff) -> dict:
    """The OCPI Tariff, with the last_updated annotated by tariff_queryset_dated()."""
    moment = getattr(tariff, "ocpi_last_updated", None) or tariff.created_at
    return {**tariff_content(tariff), "last_updated": ocpi_datetime(moment)}


def _fingerprint(content: dict) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()

"""The CDRs module, CPO side: a charge detail record per roaming driver's invoiced session.

When a session is invoiced (billing's INVOICE_ISSUED: ended and billable;
a disputed session only once an operator accepted or corrected it, a
voided one never), the CDR is built from the invoice, so the partner is
billed what our books say: the cost from the session's tariff snapshot,
excl. and incl. VAT, with the tariff in OCPI shape and the charging
periods. The CDR id is the invoice number.

Sent at most once as far as the partner can tell: the row (id, partner,
session, body) is stored in the relay's transaction before any POST, and
every attempt POSTs that same body with that same id, under a row lock (no
two senders at once); sent_at and the partner's Location are stored when
the partner answers with success. Should the partner have stored the CDR
but its answer be lost, the retry carries the same id, which the partner
recognises as the CDR it has (OCPI: ids are unique per CPO); it is never a
second CDR with a new id.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction as db_transaction
from django.db.models import QuerySet
from django.utils import timezone

from billing.energy import charging_end, energy_curve
from billing.models import Invoice, Tariff, TariffPeriod
from billing.pricing import Component, Terms
from billing.selectors import transaction_session_facts

from .authorizations import session_authorization
from .charging_periods import cdr_charging_periods
from .choices import PartyStatus
from .client import PartnerError, ocpi_call
from .credential_tokens import token_decrypt
from .formats import number, ocpi_datetime
from .models import Cdr, Party
from .sessions import cdr_token, evse_of, price, transaction_roaming_driver
from .tariffs import tariff_content

HOUR = Decimal(3600)
# Which total of the CDR each invoice line adds to (minimum and maximum
# adjustments are only in total_cost: OCPI has no field for them).
COST_FIELDS = {
    Component.ENERGY: "total_energy_cost",
    Component.TIME: "total_time_cost",
    Component.IDLE: "total_parking_cost",
    Component.SESSION_FEE: "total_fixed_cost",
}


class CdrNotBuildable(Exception):
    """The session cannot be described as a CDR yet (its station lacks data OCPI requires).

    Raised out of the outbox handler on purpose: the event stays pending and
    is retried with back-off, its error shown in the outbox, until an
    operator completes the station; the CDR is late, never lost.
    """


def snapshot_tariff(snapshot: dict) -> Tariff:
    """The tariff as it was at the session's start, unsaved, for tariff_content()."""
    tariff = Tariff(
        pk=snapshot.get("id"),
        name=snapshot.get("name") or "",
        currency=snapshot["currency"],
        price_per_kwh=Decimal(snapshot.get("price_per_kwh") or 0),
        price_per_minute=Decimal(snapshot.get("price_per_minute") or 0),
        idle_price_per_minute=Decimal(snapshot.get("idle_price_per_minute") or 0),
        idle_grace_minutes=int(snapshot.get("idle_grace_minutes") or 0),
        session_fee=Decimal(snapshot.get("session_fee") or 0),
        min_price=_decimal(snapshot.get("min_price")),
        max_price=_decimal(snapshot.get("max_price")),
        vat_rate=Decimal(snapshot.get("vat_rate") or 0),
    )
    periods = [
        TariffPeriod(
            start_time=datetime.strptime(item["start"][:5], "%H:%M").time(),
            end_time=datetime.strptime(item["end"][:5], "%H:%M").time(),
            price_per_kwh=_decimal(item.get("price_per_kwh")),
            price_per_minute=_decimal(item.get("price_per_minute")),
        )
        for item in snapshot.get("periods", ())
    ]
    # tariff_content() reads tariff.periods.all(): served from this list, no query.
    tariff._prefetched_objects_cache = {"periods": periods}
    return tariff


def _decimal(text) -> Decimal | None:
    return None if text in (None, "") else Decimal(text)


def cdr_object(invoice: Invoice, driver_token, *, now: datetime) -> dict:
    """The OCPI CDR of an invoiced session."""
    session = invoice.transaction
    location, evse = evse_of(session)
    if location is None or evse is None:
        raise CdrNotBuildable("the station is not a published location with this EVSE")
    snapshot = invoice.tariff_snapshot
    vat_rate = Decimal(snapshot.get("vat_rate") or 0)
    facts = transaction_session_facts(transaction=session)
    curve = energy_curve(
        start=facts.start, stop=facts.stop, total_wh=facts.energy_wh, readings=facts.readings
    )
    threshold = int(snapshot.get("idle_power_threshold_w", 100))
    stop = max(facts.stop, facts.start)
    charged_until = min(charging_end(curve, threshold_w=threshold) or stop, stop)
    charging_hours = Decimal((charged_until - facts.start).total_seconds()) / HOUR
    parking_hours = Decimal((stop - charged_until).total_seconds()) / HOUR
    tariff = tariff_content(snapshot_tariff(snapshot))
    authorized = session_authorization(session, driver_token)
    tariff["last_updated"] = ocpi_datetime(session.start_timestamp)
    periods = cdr_charging_periods(
        terms=Terms.from_snapshot(snapshot),
        time_zone=facts.time_zone,
        curve=curve,
        start=facts.start,
        charged_until=charged_until,
        stop=stop,
        total_wh=invoice.energy_wh,
        tariff_id=tariff["id"],
    )
    connector = evse["connectors"][0]
    missing = [key for key in ("standard", "format", "power_type") if not connector.get(key)]
    if missing:
        raise CdrNotBuildable(f"connector {evse['uid']}: no {missing[0]} (console: Connectors)")
    body = {
        "country_code": settings.OCPI_COUNTRY_CODE,
        "party_id": settings.OCPI_PARTY_ID,
        "id": invoice.number,
        "start_date_time": ocpi_datetime(facts.start),
        "end_date_time": ocpi_datetime(stop),
        "session_id": str(session.pk),
        "cdr_token": cdr_token(driver_token),
        "auth_method": authorized.auth_method,
        "cdr_location": {
            key: location[key]
            for key in ("id", "name", "address", "city", "postal_code", "country", "coordinates")
            if key in location
        }
        | {
            "evse_uid": evse["uid"],
            "evse_id": evse.get("evse_id") or evse["uid"],
            "connector_id": connector["id"],
            "connector_standard": connector["standard"],
            "connector_format": connector["format"],
            "connector_power_type": connector["power_type"],
        },
        "currency": invoice.currency,
        "tariffs": [tariff],
        "charging_periods": periods,
        "total_cost": {"excl_vat": number(invoice.net_total), "incl_vat": number(invoice.total)},
        "total_energy": number(Decimal(invoice.energy_wh) / 1000),
        "total_time": _hours(charging_hours + parking_hours),
        "total_parking_time": _hours(parking_hours),
        "invoice_reference_id": invoice.number,
        "last_updated": ocpi_datetime(now),
    }
    costs: dict[str, Decimal] = {}
    for line in invoice.lines.all():
        field = COST_FIELDS.get(Component(line.component))
        if field:
            costs[field] = costs.get(field, Decimal(0)) + line.amount
    body.update({field: price(amount, vat_rate) for field, amount in costs.items()})
    if authorized.authorization_reference:
        body["authorization_reference"] = authorized.authorization_reference
    return body


def _hours(value: Decimal) -> float:
    return number(round(max(value, Decimal(0)), 6))


def cdr_record(*, invoice_pk: int) -> Cdr | None:
    """Store the CDR of an invoiced roaming session, once; None when it is none's.

    Inside the caller's transaction (the outbox relay's): the CDR exists
    exactly when the event is handled. Raises CdrNotBuildable (retried).
    """
    invoice = (
        Invoice.objects.select_related("transaction__charge_point").filter(pk=invoice_pk).first()
    )
    if invoice is None:
        return None
    existing = Cdr.objects.filter(transaction_id=invoice.transaction_id).first()
    if existing is not None:
        return existing
    driver = transaction_roaming_driver(invoice.transaction)
    if driver is None:
        return None
    now = timezone.now()
    body = cdr_object(invoice, driver.token, now=now)
    return Cdr.objects.create(
        id=body["id"],
        partner=driver.party,
        transaction=invoice.transaction,
        body=body,
        last_updated=now,
    )


def cdr_send(*, cdr_pk: str) -> str:
    """POST a stored CDR to its partner unless it was sent; what was done.

    The row stays locked during the call (at most OCPI_REQUEST_TIMEOUT_SECONDS)
    so that a retry and the sweep never send it at the same time.
    """
    failure = None
    with db_transaction.atomic():
        cdr = (
            Cdr.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("partner")
            .filter(pk=cdr_pk, sent_at__isnull=True)
            .first()
        )
        if cdr is None:
            return "sent already or being sent"
        party: Party | None = cdr.partner
        url = party.endpoint_url("cdrs", "RECEIVER") if party else None
        if not url or not party.outgoing_token_encrypted or party.status != PartyStatus.REGISTERED:
            cdr.last_error = "the partner has no CDRs Receiver interface (kept for it to pull)"
            cdr.save(update_fields=["last_error"])
            return "no receiver"
        cdr.attempts += 1
        try:
            answer = ocpi_call(
                method="POST",
                url=url,
                token=token_decrypt(party.outgoing_token_encrypted),
                party=party,
                body=cdr.body,
            )
        except PartnerError as exc:
            # Noted, and raised after the commit (raising here would roll the note back).
            failure = exc
            cdr.last_error = str(exc)[:500]
            cdr.save(update_fields=["attempts", "last_error"])
        else:
            location = next(
                (value for name, value in answer.headers.items() if name.lower() == "location"), ""
            )
            cdr.sent_at, cdr.location_url, cdr.last_error = timezone.now(), location[:1000], ""
            cdr.save(update_fields=["attempts", "sent_at", "location_url", "last_error"])
    if failure is not None:
        raise failure
    return "sent"


def cdrs_unsent() -> QuerySet[Cdr]:
    """CDRs still to send to registered partners, oldest first."""
    return Cdr.objects.filter(
        sent_at__isnull=True, partner__status=PartyStatus.REGISTERED
    ).order_by("last_updated")


def cdr_queryset(
    *, party: Party, date_from: datetime | None = None, date_to: datetime | None = None
) -> QuerySet[Cdr]:
    """The CDRs of one partner's drivers, oldest first, in the date window (last_updated)."""
    queryset = Cdr.objects.filter(partner=party).order_by("last_updated", "id")
    if date_from is not None:
        queryset = queryset.filter(last_updated__gte=date_from)
    if date_to is not None:
        queryset = queryset.filter(last_updated__lt=date_to)
    return queryset

"""The Sessions module, CPO side: roaming drivers' sessions pushed to their eMSP.

A session is a roaming driver's when its id tag is the mirror of a
partner's token (roaming.tokens): that partner gets the Session, PUT when
it starts, PATCHed with energy and cost while it runs (a periodic sweep,
not every meter value) and PATCHed COMPLETED when it ends. Every push
reads the session as it is now, so pushes that run late, twice or out of
order send the current state; a partner that missed the PUT (404) gets
the whole Session instead of the PATCH. The session id is our transaction
id.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from billing.selectors import transaction_cost_so_far
from stations.choices import SessionStatus
from stations.models import Transaction
from stations.selectors import transaction_energy_so_far

from .authorizations import session_authorization
from .choices import PartyStatus
from .client import PartnerError, ocpi_call
from .credential_tokens import token_decrypt
from .formats import number, ocpi_datetime
from .locations import TariffChooser, location_object, location_queryset, locations_load
from .models import Party, RoamingToken

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class RoamingDriver:
    party: Party
    token: RoamingToken


def transaction_roaming_driver(transaction: Transaction) -> RoamingDriver | None:
    """The partner and token of a roaming driver's session; None for our own drivers."""
    if transaction.tag_id is None:
        return None
    token = (
        RoamingToken.objects.select_related("partner").filter(id_tag_id=transaction.tag_id).first()
    )
    return None if token is None else RoamingDriver(party=token.partner, token=token)


def cdr_token(token: RoamingToken) -> dict:
    return {
        "country_code": token.country_code,
        "party_id": token.party_id,
        "uid": token.uid,
        "type": token.type,
        "contract_id": token.contract_id,
    }


def price(net: Decimal, vat_rate: Decimal) -> dict:
    """An OCPI Price from a net amount and a VAT rate in percent."""
    gross = round(net * (1 + vat_rate / HUNDRED), 2)
    return {"excl_vat": number(net), "incl_vat": number(gross)}


def evse_of(transaction: Transaction) -> tuple[dict | None, dict | None]:
    """(the OCPI Location, its EVSE) where the session runs; None when not published."""
    station_pk = transaction.charge_point.station_id
    rows = list(location_queryset().filter(pk=station_pk).values_list("pk", "ocpi_last_updated"))
    if station_pk is None or not rows:
        return None, None
    location = location_object(locations_load(rows)[0], tariffs=TariffChooser())
    uid = str(transaction.connector_id)
    evse = next((e for e in location.get("evses", []) if e["uid"] == uid), None)
    return location, evse


def session_object(transaction: Transaction, token: RoamingToken) -> dict:
    """The OCPI Session of one of our transactions, as it is now."""
    location, evse = evse_of(transaction)
    ended = not transaction.is_open
    bill = transaction_cost_so_far(transaction_pk=transaction.pk)
    snapshot = transaction.tariff_snapshot or {}
    authorized = session_authorization(transaction, token)
    body = {
        "country_code": settings.OCPI_COUNTRY_CODE,
        "party_id": settings.OCPI_PARTY_ID,
        "id": str(transaction.pk),
        "start_date_time": ocpi_datetime(transaction.start_timestamp),
        "kwh": number(Decimal(transaction_energy_so_far(transaction=transaction) or 0) / 1000),
        "cdr_token": cdr_token(token),
        "auth_method": authorized.auth_method,
        "location_id": location["id"] if location else str(transaction.charge_point.station_id),
        "evse_uid": evse["uid"] if evse else str(transaction.connector_id),
        "connector_id": evse["connectors"][0]["id"] if evse else "1",
        "currency": (bill.currency if bill else snapshot.get("currency"))
        or settings.BILLING_DEFAULT_CURRENCY,
        "status": _status(transaction),
        "last_updated": ocpi_datetime(transaction.updated_at),
    }
    if authorized.authorization_reference:
        body["authorization_reference"] = authorized.authorization_reference
    if ended and transaction.stop_timestamp:
        body["end_date_time"] = ocpi_datetime(transaction.stop_timestamp)
    until = transaction.stop_timestamp if ended else timezone.now()
    if until is not None:
        # One period from the start, the whole session so far (the CDR splits off parking).
        seconds = max((until - transaction.start_timestamp).total_seconds(), 0)
        body["charging_periods"] = [
            {
                "start_date_time": body["start_date_time"],
                "dimensions": [
                    {"type": "ENERGY", "volume": body["kwh"]},
                    {"type": "TIME", "volume": round(seconds / 3600, 6)},
                ],
            }
        ]
    if bill is not None:
        # Billing's own totals: the same rounding as the invoice will have.
        body["total_cost"] = {"excl_vat": number(bill.net), "incl_vat": number(bill.total)}
    return body


def _status(transaction: Transaction) -> str:
    if transaction.is_open:
        return "ACTIVE"
    # A refused start never charged: OCPI's INVALID ("will not become valid").
    return "INVALID" if transaction.status == SessionStatus.REFUSED else "COMPLETED"


def partner_sessions_url(party: Party) -> str | None:
    if party.status != PartyStatus.REGISTERED or not party.outgoing_token_encrypted:
        return None
    return party.endpoint_url("sessions", "RECEIVER")


def session_push(*, transaction_pk: int, whole: bool = False) -> str:
    """Send a roaming driver's session, as it is now, to its eMSP; what was done.

    whole: the whole Session (PUT, when it starts); otherwise the fields that
    move (PATCH), or the whole Session when the partner does not know it.
    """
    transaction = (
        Transaction.objects.select_related("charge_point").filter(pk=transaction_pk).first()
    )
    driver = transaction_roaming_driver(transaction) if transaction else None
    url = partner_sessions_url(driver.party) if driver else None
    if not url:
        return "not a partner's session"
    body = session_object(transaction, driver.token)
    # Energy and cost move with meter values, which do not touch the session row.
    body["last_updated"] = ocpi_datetime(timezone.now())
    token = token_decrypt(driver.party.outgoing_token_encrypted)
    target = f"{url.rstrip('/')}/{body['country_code']}/{body['party_id']}/{body['id']}"
    if whole:
        ocpi_call(method="PUT", url=target, token=token, party=driver.party, body=body)
        return "put"
    changes = {
        name: body[name]
        for name in (
            "kwh",
            "status",
            "end_date_time",
            "charging_periods",
            "total_cost",
            "last_updated",
        )
        if name in body
    }
    try:
        ocpi_call(method="PATCH", url=target, token=token, party=driver.party, body=changes)
        return "patched"
    except PartnerError as exc:
        if exc.http_status != 404 and exc.status_code != 2001:
            raise
    ocpi_call(method="PUT", url=target, token=token, party=driver.party, body=body)
    return "put"


def roaming_sessions_running() -> list[int]:
    """Running sessions of drivers whose partner takes Session pushes."""
    parties = [
        party.pk
        for party in Party.objects.filter(status=PartyStatus.REGISTERED)
        if partner_sessions_url(party)
    ]
    if not parties:
        return []
    return list(
        Transaction.objects.filter(
            status=SessionStatus.RUNNING, tag__roaming_token__partner__in=parties
        ).values_list("pk", flat=True)
    )

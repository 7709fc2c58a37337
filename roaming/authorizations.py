"""Which authorization of the partner a roaming session rests on (Session/CDR auth fields).

OCPI: a session carries the `authorization_reference` the eMSP gave in a
real-time authorization, a START_SESSION or a RESERVE_NOW for it, the
last one given when there are several; and `auth_method` says how it was
authorized (AUTH_REQUEST, COMMAND, or WHITELIST when the stored token
decided alone).

A real-time answer or a START_SESSION (RoamingAuthorization) is bound to
the session when it starts (the outbox subscriber, once): the newest
ALLOWED one of the token at that charger, given at most BOUND_BEFORE
before the start (and up to BOUND_AFTER after it: the charger's clock).
A reservation is the one the charger's start named (its reservationId).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from stations.models import Transaction

from .models import RoamingAuthorization, RoamingReservation, RoamingToken

BOUND_BEFORE = timedelta(minutes=15)
BOUND_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class SessionAuthorization:
    auth_method: str
    authorization_reference: str


WHITELISTED = SessionAuthorization("WHITELIST", "")


def session_authorization_bind(*, transaction: Transaction, token: RoamingToken) -> None:
    """Link the partner's authorization that started this session to it (idempotent)."""
    if RoamingAuthorization.objects.filter(transaction=transaction).exists():
        return
    start = transaction.start_timestamp
    candidate = (
        RoamingAuthorization.objects.filter(
            token=token,
            charge_point_id=transaction.charge_point_id,
            allowed="ALLOWED",
            transaction__isnull=True,
            created_at__gte=start - BOUND_BEFORE,
            created_at__lte=start + BOUND_AFTER,
        )
        .order_by("-created_at")
        .first()
    )
    if candidate is not None:
        RoamingAuthorization.objects.filter(pk=candidate.pk, transaction__isnull=True).update(
            transaction=transaction
        )


def session_authorization(transaction: Transaction, token: RoamingToken) -> SessionAuthorization:
    """How the partner authorized the session, and its latest authorization_reference."""
    given = []  # (when, auth method, reference)
    bound = RoamingAuthorization.objects.filter(transaction=transaction).first()
    if bound is not None:
        given.append((bound.created_at, bound.source, bound.authorization_reference))
    if transaction.reservation_id is not None:
        reserved = RoamingReservation.objects.filter(
            ocpp_reservation_id=transaction.reservation_id, token=token
        ).first()
        if reserved is not None:
            given.append((reserved.received_at, "COMMAND", reserved.authorization_reference))
    if not given:
        return WHITELISTED
    given.sort(key=lambda entry: entry[0])
    references = [reference for _, _, reference in given if reference]
    return SessionAuthorization(given[-1][1], references[-1] if references else "")

"""Reservations: recorded as charge points answer them, used by transactions, expired."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from drivers.choices import AuthorizationStatus
from drivers.selectors import Authorization

from ..models import Reservation, ReservationStatus, Transaction


def reservation_answered(
    *,
    charge_point_pk: int,
    reservation_id: int,
    connector_id: int,
    id_tag: str,
    parent_id_tag: str = "",
    expiry_date: datetime,
    status: ReservationStatus,
) -> Reservation:
    """Record a reservation as the charge point answered it (accepted or refused)."""
    reservation, _ = Reservation.objects.update_or_create(
        reservation_id=reservation_id,
        defaults={
            "charge_point_id": charge_point_pk,
            "connector_id": connector_id,
            "id_tag": id_tag,
            "parent_id_tag": parent_id_tag,
            "expiry_date": expiry_date,
            "status": status,
            "transaction": None,
        },
    )
    return reservation


def reservation_cancelled(*, charge_point_pk: int, reservation_id: int) -> int:
    """Mark a reservation the charge point cancelled; return how many were."""
    return Reservation.objects.filter(
        charge_point_id=charge_point_pk, reservation_id=reservation_id
    ).update(status=ReservationStatus.CANCELLED)


def reservation_use(
    *,
    charge_point_pk: int,
    reservation_id: int,
    transaction: Transaction,
    authorization: Authorization,
) -> Reservation | None:
    """Mark a reservation used by a started transaction, if it may be.

    Only an Accepted start uses it, and only by the reserved id tag or a tag
    with the same parent id tag as the reservation (OCPP 1.6 §5.13).
    """
    if authorization.status != AuthorizationStatus.ACCEPTED:
        return None
    same_tag = Q(id_tag__iexact=transaction.id_tag)
    if authorization.parent_id_tag:
        same_tag |= Q(parent_id_tag__iexact=authorization.parent_id_tag)
    updated = Reservation.objects.filter(
        same_tag,
        charge_point_id=charge_point_pk,
        reservation_id=reservation_id,
        status=ReservationStatus.ACCEPTED,
    ).update(status=ReservationStatus.USED, transaction=transaction)
    return Reservation.objects.get(reservation_id=reservation_id) if updated else None


def reservations_expire(*, now: datetime | None = None) -> int:
    """Accepted reservations past their expiry date become expired; return how many."""
    return Reservation.objects.filter(
        status=ReservationStatus.ACCEPTED, expiry_date__lte=now or timezone.now()
    ).update(status=ReservationStatus.EXPIRED)


def reservation_ended(
    *, charge_point_pk: int, reservation_id: int, status: ReservationStatus
) -> int:
    """Record that the charge point ended an accepted reservation itself; return how many.

    The charge point tells when it dropped a reservation (it expired, or it
    was removed); a reservation already used or cancelled keeps its status.
    """
    return Reservation.objects.filter(
        charge_point_id=charge_point_pk,
        reservation_id=reservation_id,
        status=ReservationStatus.ACCEPTED,
    ).update(status=status)

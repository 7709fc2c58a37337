"""Reservations: recorded from ReserveNow answers, used by transactions, expired."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from drivers.choices import AuthorizationStatus
from drivers.selectors import Authorization

from ..models import Reservation, ReservationStatus, Transaction
from ..timestamps import parse_ocpp_datetime
from .answers import applies_to

# ReserveNow answer status → our status.
_ANSWER_STATUS = {
    "Accepted": ReservationStatus.ACCEPTED,
    "Faulted": ReservationStatus.FAULTED,
    "Occupied": ReservationStatus.OCCUPIED,
    "Rejected": ReservationStatus.REJECTED,
    "Unavailable": ReservationStatus.UNAVAILABLE,
}


@applies_to("ReserveNow")
def _reservation_answered(*, charge_point_pk: int, request: dict, response: dict) -> None:
    Reservation.objects.update_or_create(
        reservation_id=request["reservationId"],
        defaults={
            "charge_point_id": charge_point_pk,
            "connector_id": request["connectorId"],
            "id_tag": request["idTag"],
            "parent_id_tag": request.get("parentIdTag", ""),
            "expiry_date": parse_ocpp_datetime(request["expiryDate"]),
            "status": _ANSWER_STATUS[response["status"]],
            "transaction": None,
        },
    )


@applies_to("CancelReservation")
def _reservation_cancelled(*, charge_point_pk: int, request: dict, response: dict) -> None:
    if response.get("status") == "Accepted":
        Reservation.objects.filter(
            charge_point_id=charge_point_pk, reservation_id=request["reservationId"]
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

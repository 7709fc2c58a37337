"""What the answers to 2.0.1 ReserveNow and CancelReservation change (registered in actions_201).

They are recorded in the same Reservation rows as 1.6's: the EVSE id is the
domain connector id (0 when the station may pick any EVSE), the idToken's
value is the id tag and the groupIdToken's the parent id tag. A reservation
of a connector type only (no evseId) is recorded on connector 0; the type
itself is not kept.
"""

from __future__ import annotations

from stations.models import ReservationStatus
from stations.services.reservations import reservation_answered, reservation_cancelled
from stations.timestamps import parse_ocpp_datetime

from ..commands.actions_201 import applies_answer

ACCEPTED = "Accepted"
ANY_EVSE = 0
# ReserveNowStatusEnumType -> our reservation status (the same values as 1.6).
RESERVE_NOW_STATUS = {
    ACCEPTED: ReservationStatus.ACCEPTED,
    "Faulted": ReservationStatus.FAULTED,
    "Occupied": ReservationStatus.OCCUPIED,
    "Rejected": ReservationStatus.REJECTED,
    "Unavailable": ReservationStatus.UNAVAILABLE,
}


@applies_answer("ReserveNow")
def reserve_now_answered(*, charge_point_pk: int, request: dict, response: dict) -> None:
    group = request.get("groupIdToken")
    reservation_answered(
        charge_point_pk=charge_point_pk,
        reservation_id=request["id"],
        connector_id=request.get("evseId", ANY_EVSE),
        id_tag=request["idToken"]["idToken"],
        parent_id_tag=group["idToken"] if group else "",
        expiry_date=parse_ocpp_datetime(request["expiryDateTime"]),
        status=RESERVE_NOW_STATUS[response["status"]],
    )


@applies_answer("CancelReservation")
def cancel_reservation_answered(*, charge_point_pk: int, request: dict, response: dict) -> None:
    if response.get("status") == ACCEPTED:
        reservation_cancelled(
            charge_point_pk=charge_point_pk, reservation_id=request["reservationId"]
        )

"""OCPP 2.0.1 ReservationStatusUpdate: the station ended a reservation itself.

Expired and Removed end an accepted reservation in the same record as 1.6's
(where only our own expiry sweep ends one); a reservation we do not know, or
one already used or cancelled, is left as it is and the station still gets
its (empty) answer.
"""

from __future__ import annotations

from ocpp.v201.enums import Action

from stations.models import ReservationStatus
from stations.services.reservations import reservation_ended

from ...group_commit import committer
from ...handlers import Session
from ..registry import handles

# ReservationUpdateStatusEnumType -> our reservation status.
UPDATE_STATUS = {
    "Expired": ReservationStatus.EXPIRED,
    "Removed": ReservationStatus.CANCELLED,
}


@handles(Action.reservation_status_update)
async def reservation_status_update(session: Session, payload: dict) -> dict:
    await committer.write(
        reservation_ended,
        charge_point_pk=session.charge_point.pk,
        reservation_id=payload["reservationId"],
        status=UPDATE_STATUS[payload["reservationUpdateStatus"]],
    )
    return {}

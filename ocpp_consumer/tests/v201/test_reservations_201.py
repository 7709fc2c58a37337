"""OCPP 2.0.1 reservations: ReserveNow, CancelReservation and ReservationStatusUpdate.

Recorded in the same Reservation rows as 1.6 (the EVSE id is the domain
connector id), and used by a TransactionEvent Started that carries the
reservationId, as a 1.6 StartTransaction uses it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from drivers.models import IdTag
from ocpp_consumer import commands
from stations.models import Reservation, ReservationStatus, Transaction

from ..test_api_commands import answer, next_call
from .station import answer_201, station_201

pytestmark = pytest.mark.django_db(transaction=True)

CARD = {"idToken": "TAG-1", "type": "ISO14443"}


async def exchange(socket, action: str, payload: dict, reply: dict):
    """Send a command, answer it as the station; return the command's record."""
    sending = asyncio.ensure_future(
        commands.command_send(charge_point_id="CP201", action=action, payload=payload)
    )
    frame = await next_call(socket, action)
    assert frame[3] == payload
    await answer(socket, frame, reply)
    return await sending


def reserve(reservation_id: int = 7, **fields) -> dict:
    return {
        "id": reservation_id,
        "expiryDateTime": "2030-01-01T12:00:00Z",
        "idToken": CARD,
        "evseId": 1,
        **fields,
    }


def started(id_token: dict, reservation_id: int = 7) -> dict:
    return {
        "eventType": "Started",
        "timestamp": "2026-05-01T10:00:00Z",
        "triggerReason": "Authorized",
        "seqNo": 0,
        "transactionInfo": {"transactionId": "TX-R", "chargingState": "Charging"},
        "evse": {"id": 1, "connectorId": 1},
        "idToken": id_token,
        "reservationId": reservation_id,
    }


async def test_reserve_now_accepted_is_recorded_like_1_6(charge_point_socket):
    socket = await station_201(charge_point_socket)
    group = {"idToken": "FLEET", "type": "Central"}
    command = await exchange(
        socket, "ReserveNow", reserve(groupIdToken=group), {"status": "Accepted"}
    )
    assert command.status == "answered"
    reservation = await Reservation.objects.select_related("charge_point").aget(reservation_id=7)
    assert reservation.charge_point.charge_point_id == "CP201"
    assert (reservation.connector_id, reservation.id_tag, reservation.parent_id_tag) == (
        1,
        "TAG-1",
        "FLEET",
    )
    assert reservation.expiry_date == datetime(2030, 1, 1, 12, tzinfo=UTC)
    assert reservation.status == ReservationStatus.ACCEPTED


@pytest.mark.parametrize(
    ("reply", "status"),
    [("Occupied", "occupied"), ("Faulted", "faulted"), ("Rejected", "rejected")],
)
async def test_refused_reservations_are_recorded(charge_point_socket, reply, status):
    socket = await station_201(charge_point_socket)
    await exchange(socket, "ReserveNow", reserve(), {"status": reply})
    assert (await Reservation.objects.aget(reservation_id=7)).status == status


async def test_a_reservation_of_any_evse_is_on_connector_0(charge_point_socket):
    socket = await station_201(charge_point_socket)
    payload = reserve(connectorType="cType2")
    del payload["evseId"]
    await exchange(socket, "ReserveNow", payload, {"status": "Accepted"})
    assert (await Reservation.objects.aget(reservation_id=7)).connector_id == 0


async def test_cancel_reservation_accepted_cancels_it(charge_point_socket):
    socket = await station_201(charge_point_socket)
    await exchange(socket, "ReserveNow", reserve(1), {"status": "Accepted"})
    await exchange(socket, "ReserveNow", reserve(2), {"status": "Accepted"})
    await exchange(socket, "CancelReservation", {"reservationId": 1}, {"status": "Accepted"})
    await exchange(socket, "CancelReservation", {"reservationId": 2}, {"status": "Rejected"})
    statuses = {r.reservation_id: r.status async for r in Reservation.objects.all()}
    assert statuses == {1: ReservationStatus.CANCELLED, 2: ReservationStatus.ACCEPTED}


@pytest.mark.parametrize(("update", "status"), [("Expired", "expired"), ("Removed", "cancelled")])
async def test_reservation_status_update_ends_it(charge_point_socket, update, status):
    socket = await station_201(charge_point_socket)
    await exchange(socket, "ReserveNow", reserve(), {"status": "Accepted"})
    payload = {"reservationId": 7, "reservationUpdateStatus": update}
    assert await answer_201(socket, "ReservationStatusUpdate", payload, "r") == {}
    assert (await Reservation.objects.aget(reservation_id=7)).status == status


async def test_a_status_update_leaves_unknown_and_used_reservations_alone(charge_point_socket):
    socket = await station_201(charge_point_socket)
    unknown = {"reservationId": 99, "reservationUpdateStatus": "Expired"}
    assert await answer_201(socket, "ReservationStatusUpdate", unknown, "r1") == {}
    await IdTag.objects.acreate(id_tag="TAG-1")
    await exchange(socket, "ReserveNow", reserve(), {"status": "Accepted"})
    await answer_201(socket, "TransactionEvent", started(CARD), "s")
    late = {"reservationId": 7, "reservationUpdateStatus": "Expired"}
    assert await answer_201(socket, "ReservationStatusUpdate", late, "r2") == {}
    assert (await Reservation.objects.aget(reservation_id=7)).status == ReservationStatus.USED


async def test_the_reserved_evse_is_used_by_the_reserved_token(charge_point_socket):
    await IdTag.objects.acreate(id_tag="TAG-1")
    socket = await station_201(charge_point_socket)
    await exchange(socket, "ReserveNow", reserve(), {"status": "Accepted"})
    other_case = {"idToken": "tag-1", "type": "ISO14443"}
    result = await answer_201(socket, "TransactionEvent", started(other_case), "s")
    assert result == {"idTokenInfo": {"status": "Accepted"}}
    session = await Transaction.objects.aget(ocpp_transaction_id="TX-R")
    reservation = await Reservation.objects.aget(reservation_id=7)
    assert (reservation.status, reservation.transaction_id) == (ReservationStatus.USED, session.pk)


async def test_another_token_does_not_use_the_reservation(charge_point_socket):
    await IdTag.objects.acreate(id_tag="TAG-1")
    await IdTag.objects.acreate(id_tag="OTHER")
    socket = await station_201(charge_point_socket)
    await exchange(socket, "ReserveNow", reserve(), {"status": "Accepted"})
    await answer_201(
        socket, "TransactionEvent", started({"idToken": "OTHER", "type": "ISO14443"}), "s"
    )
    reservation = await Reservation.objects.aget(reservation_id=7)
    assert (reservation.status, reservation.transaction_id) == (ReservationStatus.ACCEPTED, None)

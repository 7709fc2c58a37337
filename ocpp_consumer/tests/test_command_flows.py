"""Reservation, smart charging and local list flows through real command round trips."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async

from drivers.models import IdTag, LocalAuthList
from ocpp_consumer import commands
from ocpp_consumer.local_lists import DIFFERENTIAL, FULL, local_list_payload
from stations.models import (
    ChargePoint,
    ChargingProfile,
    CompositeSchedule,
    Reservation,
    ReservationStatus,
)
from stations.services.reservations import reservations_expire

from .conftest import TIMEOUT, assert_call_result

pytestmark = pytest.mark.django_db(transaction=True)

EXPIRY = "2030-01-01T12:00:00Z"


async def command(cp, action, payload, answer):
    """Send a command, answer it as the charge point would, return its record."""
    sending = asyncio.create_task(
        commands.command_send(
            charge_point_id="CP1", action=action, payload=payload, timeout=TIMEOUT
        )
    )
    frame = await cp.next_frame()
    assert frame[2:] == [action, payload]
    await cp.send_json_to([3, frame[1], answer])
    return await sending


def reserve(reservation_id=7, id_tag="TAG-1", **extra):
    return {
        "connectorId": 1,
        "expiryDate": EXPIRY,
        "idTag": id_tag,
        "reservationId": reservation_id,
        **extra,
    }


def start(id_tag, reservation_id=7):
    return {
        "connectorId": 1,
        "idTag": id_tag,
        "meterStart": 0,
        "timestamp": "2026-11-26T10:00:00Z",
        "reservationId": reservation_id,
    }


async def test_reservation_used_by_the_reserved_tag(charge_point_socket):
    await IdTag.objects.acreate(id_tag="TAG-1")
    cp = await charge_point_socket()
    await command(cp, "ReserveNow", reserve(), {"status": "Accepted"})
    reservation = await Reservation.objects.aget(reservation_id=7)
    assert reservation.status == ReservationStatus.ACCEPTED
    started = assert_call_result(
        await cp.call("StartTransaction", start("tag-1"), unique_id="s"), "s"
    )
    reservation = await Reservation.objects.aget(reservation_id=7)
    assert (reservation.status, reservation.transaction_id) == (
        ReservationStatus.USED,
        started["transactionId"],
    )


async def test_reservation_for_a_parent_tag_is_used_by_its_child(charge_point_socket):
    fleet = await IdTag.objects.acreate(id_tag="FLEET")
    await IdTag.objects.acreate(id_tag="CARD-7", parent=fleet)
    cp = await charge_point_socket()
    await command(
        cp, "ReserveNow", reserve(id_tag="CARD-1", parentIdTag="FLEET"), {"status": "Accepted"}
    )
    await cp.call("StartTransaction", start("CARD-7"), unique_id="s")
    assert (await Reservation.objects.aget(reservation_id=7)).status == ReservationStatus.USED


@pytest.mark.parametrize("id_tag", ["UNKNOWN", "OTHER"])
async def test_reservation_not_used_by_a_refused_or_foreign_tag(charge_point_socket, id_tag):
    await IdTag.objects.acreate(id_tag="TAG-1")
    await IdTag.objects.acreate(id_tag="OTHER")
    cp = await charge_point_socket()
    await command(cp, "ReserveNow", reserve(), {"status": "Accepted"})
    await cp.call("StartTransaction", start(id_tag), unique_id="s")
    reservation = await Reservation.objects.aget(reservation_id=7)
    assert (reservation.status, reservation.transaction_id) == (ReservationStatus.ACCEPTED, None)


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        ("Occupied", "occupied"),
        ("Faulted", "faulted"),
        ("Unavailable", "unavailable"),
        ("Rejected", "rejected"),
    ],
)
async def test_refused_reservations_are_recorded(charge_point_socket, answer, status):
    cp = await charge_point_socket()
    await command(cp, "ReserveNow", reserve(), {"status": answer})
    assert (await Reservation.objects.aget(reservation_id=7)).status == status


async def test_cancel_and_expiry(charge_point_socket):
    cp = await charge_point_socket()
    await command(cp, "ReserveNow", reserve(1), {"status": "Accepted"})
    await command(cp, "ReserveNow", reserve(2), {"status": "Accepted"})
    await command(cp, "CancelReservation", {"reservationId": 1}, {"status": "Accepted"})
    expired = await sync_to_async(reservations_expire)(
        now=datetime(2030, 1, 1, 12, 0, 1, tzinfo=UTC)
    )
    statuses = {r.reservation_id: r.status async for r in Reservation.objects.all()}
    assert expired == 1
    assert statuses == {1: ReservationStatus.CANCELLED, 2: ReservationStatus.EXPIRED}


def profile(
    profile_id=1, stack_level=0, purpose="TxDefaultProfile", periods=((0, 32.0), (3600, 16.0))
):
    return {
        "chargingProfileId": profile_id,
        "stackLevel": stack_level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": s, "limit": limit} for s, limit in periods],
        },
    }


async def test_accepted_profiles_are_installed_replaced_and_cleared(charge_point_socket):
    cp = await charge_point_socket()
    await command(
        cp,
        "SetChargingProfile",
        {"connectorId": 1, "csChargingProfiles": profile(1)},
        {"status": "Accepted"},
    )
    await command(
        cp,
        "SetChargingProfile",
        {"connectorId": 1, "csChargingProfiles": profile(2)},
        {"status": "Accepted"},
    )
    await command(
        cp,
        "SetChargingProfile",
        {"connectorId": 1, "csChargingProfiles": profile(3, 1)},
        {"status": "Rejected"},
    )
    installed = [p async for p in ChargingProfile.objects.filter(cleared_at__isnull=True)]
    assert [p.charging_profile_id for p in installed] == [
        2
    ]  # same stack level and purpose: 1 replaced
    periods = [(p.start_period, float(p.limit)) async for p in installed[0].periods.all()]
    assert periods == [(0, 32.0), (3600, 16.0)]
    await command(cp, "ClearChargingProfile", {"id": 2}, {"status": "Accepted"})
    assert not await ChargingProfile.objects.filter(cleared_at__isnull=True).aexists()


async def test_composite_schedule_is_kept_for_operators(charge_point_socket):
    cp = await charge_point_socket()
    schedule = {
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0}],
    }
    await command(cp, "GetCompositeSchedule", {"connectorId": 1, "duration": 600},
                  {"status": "Accepted", "connectorId": 1, "scheduleStart": "2026-11-26T10:00:00Z", "chargingSchedule": schedule})  # fmt: skip
    stored = await CompositeSchedule.objects.aget(connector_id=1)
    assert stored.schedule == schedule


@pytest.mark.parametrize(
    ("action", "payload", "problem"),
    [
        (
            "SetChargingProfile",
            {"connectorId": 1, "csChargingProfiles": profile(periods=((60, 10.0),))},
            "must start at 0",
        ),
        (
            "SetChargingProfile",
            {"connectorId": 1, "csChargingProfiles": profile(periods=((0, 10.0), (0, 8.0)))},
            "must increase",
        ),
        (
            "SetChargingProfile",
            {"connectorId": 1, "csChargingProfiles": profile(purpose="ChargePointMaxProfile")},
            "connector 0",
        ),
        (
            "SetChargingProfile",
            {"connectorId": 1, "csChargingProfiles": profile(purpose="TxProfile")},
            "transaction_id",
        ),
        (
            "RemoteStartTransaction",
            {"idTag": "T", "chargingProfile": profile()},
            "takes a TxProfile",
        ),
    ],
)
def test_invalid_profiles_are_refused_before_sending(action, payload, problem):
    with pytest.raises(commands.InvalidPayload, match=problem):
        commands.command_validate(action=action, payload=payload)


async def test_local_list_full_then_differential(charge_point_socket):
    a, b, c = [await IdTag.objects.acreate(id_tag=name) for name in ("A-1", "B-2", "C-3")]
    cp = await charge_point_socket()
    charge_point = await ChargePoint.objects.aget(charge_point_id="CP1")
    build = sync_to_async(local_list_payload)
    full = await build(charge_point_pk=charge_point.pk, id_tags=[a, b], update_type=FULL)
    assert full == {
        "listVersion": 1,
        "updateType": "Full",
        "localAuthorizationList": [
            {"idTag": "A-1", "idTagInfo": {"status": "Accepted"}},
            {"idTag": "B-2", "idTagInfo": {"status": "Accepted"}},
        ],
    }
    await command(cp, "SendLocalList", full, {"status": "Accepted"})
    diff = await build(charge_point_pk=charge_point.pk, id_tags=[b, c], update_type=DIFFERENTIAL)
    assert diff["listVersion"] == 2
    assert diff["localAuthorizationList"] == [
        {"idTag": "A-1"},
        {"idTag": "B-2", "idTagInfo": {"status": "Accepted"}},
        {"idTag": "C-3", "idTagInfo": {"status": "Accepted"}},
    ]
    await command(cp, "SendLocalList", diff, {"status": "Failed"})
    assert (await LocalAuthList.objects.aget()).version == 1  # not accepted: unchanged
    await command(cp, "SendLocalList", diff, {"status": "Accepted"})
    await command(cp, "GetLocalListVersion", {}, {"listVersion": 2})
    current = await LocalAuthList.objects.aget()
    assert (current.version, current.reported_version) == (2, 2)
    assert sorted([t.id_tag async for t in current.id_tags.all()]) == ["B-2", "C-3"]
    assert current.reported_at > datetime.now(UTC) - timedelta(minutes=1)

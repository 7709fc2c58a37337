"""OCPP 2.0.1 smart charging: the same profile records as 1.6, external limits, EV needs.

Commands go through the REST API or `commands.command_send` to a station on
a WebsocketCommunicator, which answers them; the station's own messages are
answered with the exact CALLRESULT payloads.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from ocpp.charge_point import camel_to_snake_case

from ocpp_consumer import commands
from ocpp_consumer.models import Command
from stations.models import (
    ChargingProfile,
    CompositeSchedule,
    EVChargingNeeds,
    ExternalChargingLimit,
    Transaction,
)

from ..test_api_commands import answer, api_post, next_call, operator_client
from .station import answer_201, station_201

pytestmark = pytest.mark.django_db(transaction=True)

COMMANDS = "/api/v1/charge-points/CP201/commands/"


def schedule(limit=16.0, *, schedule_id: int = 1, **extra) -> dict:
    return {
        "id": schedule_id,
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [
            {"startPeriod": 0, "limit": limit},
            {"startPeriod": 3600, "limit": 8.0, "numberPhases": 1},
        ],
        **extra,
    }


def profile(profile_id: int, purpose: str, *, stack_level: int = 0, **extra) -> dict:
    return {
        "id": profile_id,
        "stackLevel": stack_level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": [schedule()],
        **extra,
    }


async def exchange(socket, action: str, payload: dict, reply: dict) -> Command:
    """Send a command, answer it as the station; return the command's record."""
    sending = asyncio.ensure_future(
        commands.command_send(charge_point_id="CP201", action=action, payload=payload)
    )
    frame = await next_call(socket, action)
    assert frame[3] == payload
    await answer(socket, frame, reply)
    return await sending


async def start_session(socket, transaction_id: str = "TX-SC-1") -> Transaction:
    started = {
        "eventType": "Started",
        "timestamp": "2026-12-01T10:00:00Z",
        "triggerReason": "CablePluggedIn",
        "seqNo": 0,
        "transactionInfo": {"transactionId": transaction_id},
        "evse": {"id": 1, "connectorId": 1},
    }
    await answer_201(socket, "TransactionEvent", started, "started")
    return await Transaction.objects.aget(ocpp_transaction_id=transaction_id)


def installed():
    return ChargingProfile.objects.filter(cleared_at__isnull=True).order_by("charging_profile_id")


async def test_a_tx_default_profile_set_through_the_api_is_recorded_on_accepted(
    charge_point_socket,
):
    socket = await station_201(charge_point_socket)
    client = await operator_client()
    request = {
        "evseId": 1,
        "chargingProfile": profile(
            7,
            "TxDefaultProfile",
            stack_level=2,
            validFrom="2026-12-01T00:00:00Z",
            chargingSchedule=[schedule(32, duration=7200, minChargingRate=6.5)],
        ),
    }
    pending = api_post(client, f"{COMMANDS}set-charging-profile/", camel_to_snake_case(request))
    frame = await next_call(socket, "SetChargingProfile")
    assert frame[3] == request
    await answer(socket, frame, {"status": "Accepted"})
    response = await pending
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "Accepted", "response": {"status": "Accepted"}}

    recorded = await installed().aget()
    assert (
        recorded.connector_id,
        recorded.charging_profile_id,
        recorded.purpose,
        recorded.stack_level,
        recorded.kind,
        recorded.charging_rate_unit,
        recorded.duration,
        recorded.min_charging_rate,
        recorded.limit_source,
        recorded.transaction_id,
    ) == (1, 7, "TxDefaultProfile", 2, "Absolute", "A", 7200, Decimal("6.5"), "CSO", None)
    periods = [(p.start_period, p.limit, p.number_phases) async for p in recorded.periods.all()]
    assert periods == [(0, Decimal("32"), None), (3600, Decimal("8.0"), 1)]


async def test_a_station_max_profile_is_the_station_wide_one_and_a_refusal_records_nothing(
    charge_point_socket,
):
    socket = await station_201(charge_point_socket)
    rejected = {"evseId": 0, "chargingProfile": profile(3, "ChargingStationMaxProfile")}
    await exchange(socket, "SetChargingProfile", rejected, {"status": "Rejected"})
    assert not await installed().aexists()

    accepted = {"evseId": 0, "chargingProfile": profile(4, "ChargingStationMaxProfile")}
    await exchange(socket, "SetChargingProfile", accepted, {"status": "Accepted"})
    recorded = await installed().aget()
    # One record whatever the version: the domain's (1.6) name of the purpose.
    assert (recorded.connector_id, recorded.charging_profile_id, recorded.purpose) == (
        0,
        4,
        "ChargePointMaxProfile",
    )


async def test_a_tx_profile_is_linked_to_its_session_and_ends_with_it(charge_point_socket):
    socket = await station_201(charge_point_socket)
    session = await start_session(socket)
    request = {"evseId": 1, "chargingProfile": profile(9, "TxProfile", transactionId="TX-SC-1")}
    await exchange(socket, "SetChargingProfile", request, {"status": "Accepted"})
    recorded = await installed().aget()
    assert (recorded.purpose, recorded.transaction_id) == ("TxProfile", session.pk)

    ended = {
        "eventType": "Ended",
        "timestamp": "2026-12-01T11:00:00Z",
        "triggerReason": "EVDeparted",
        "seqNo": 1,
        "transactionInfo": {"transactionId": "TX-SC-1", "stoppedReason": "EVDisconnected"},
    }
    await answer_201(socket, "TransactionEvent", ended, "ended")
    assert not await installed().aexists()


@pytest.mark.parametrize(
    ("request_body", "field", "rule"),
    [
        (
            {"evseId": 1, "chargingProfile": profile(1, "ChargingStationMaxProfile")},
            "evse_id",
            "applies to connector 0",
        ),
        (
            {"evseId": 1, "chargingProfile": profile(1, "TxProfile")},
            "charging_profile.transaction_id",
            "a TxProfile names its transaction",
        ),
        (
            {"evseId": 0, "chargingProfile": profile(1, "ChargingStationExternalConstraints")},
            "charging_profile.charging_profile_purpose",
            "a CSMS may not set them",
        ),
    ],
    ids=["station-max-on-an-evse", "tx-profile-without-transaction", "external-constraints"],
)
async def test_an_invalid_profile_answers_400_before_anything_is_sent(
    charge_point_socket, request_body, field, rule
):
    socket = await station_201(charge_point_socket)
    client = await operator_client()
    response = await api_post(
        client, f"{COMMANDS}set-charging-profile/", camel_to_snake_case(request_body)
    )
    assert response.status_code == 400, response.content
    assert field in response.content.decode() and rule in response.content.decode()
    assert await socket.receive_nothing(timeout=0.2)
    assert not await Command.objects.aexists()


async def test_asked_profiles_come_in_parts_and_are_reconciled_with_ours(charge_point_socket):
    socket = await station_201(charge_point_socket)
    ours = {"evseId": 1, "chargingProfile": profile(5, "TxDefaultProfile")}
    await exchange(socket, "SetChargingProfile", ours, {"status": "Accepted"})
    ours_pk = (await installed().aget()).pk

    asked = {"requestId": 11, "chargingProfile": {}}
    await exchange(socket, "GetChargingProfiles", asked, {"status": "Accepted"})
    first = {
        "requestId": 11,
        "chargingLimitSource": "CSO",
        "evseId": 1,
        "chargingProfile": [profile(5, "TxDefaultProfile")],
        "tbc": True,
    }
    assert await answer_201(socket, "ReportChargingProfiles", first, "r1") == {}
    last = {
        "requestId": 11,
        "chargingLimitSource": "EMS",
        "evseId": 0,
        "chargingProfile": [profile(90, "ChargingStationExternalConstraints", stack_level=1)],
    }
    assert await answer_201(socket, "ReportChargingProfiles", last, "r2") == {}

    rows = [
        (p.pk, p.connector_id, p.charging_profile_id, p.purpose, p.limit_source)
        async for p in installed()
    ]
    assert rows == [
        (ours_pk, 1, 5, "TxDefaultProfile", "CSO"),  # ours, kept as it was
        (rows[1][0], 0, 90, "ExternalConstraints", "EMS"),
    ]
    viewer = await operator_client("stations.view_chargingprofile")
    listed = await sync_to_async(viewer.get)("/api/v1/charging-profiles/?installed=true")
    assert listed.status_code == 200, listed.content
    shown = {item["charging_profile_id"]: item["limit_source"] for item in listed.json()["results"]}
    assert shown == {5: "CSO", 90: "EMS"}


async def test_no_profiles_for_a_question_clears_what_it_asked_about(charge_point_socket):
    socket = await station_201(charge_point_socket)
    for evse, number in ((1, 5), (2, 6)):
        ours = {"evseId": evse, "chargingProfile": profile(number, "TxDefaultProfile")}
        await exchange(socket, "SetChargingProfile", ours, {"status": "Accepted"})
    asked = {
        "requestId": 12,
        "evseId": 2,
        "chargingProfile": {"chargingProfilePurpose": "TxDefaultProfile"},
    }
    await exchange(socket, "GetChargingProfiles", asked, {"status": "NoProfiles"})
    assert [p.charging_profile_id async for p in installed()] == [5]


async def test_clear_by_id_and_by_criteria_on_accepted_only(charge_point_socket):
    socket = await station_201(charge_point_socket)
    for number, purpose, evse in (
        (1, "TxDefaultProfile", 1),
        (2, "TxDefaultProfile", 2),
        (3, "ChargingStationMaxProfile", 0),
    ):
        body = {"evseId": evse, "chargingProfile": profile(number, purpose)}
        await exchange(socket, "SetChargingProfile", body, {"status": "Accepted"})

    await exchange(socket, "ClearChargingProfile", {"chargingProfileId": 1}, {"status": "Unknown"})
    assert [p.charging_profile_id async for p in installed()] == [1, 2, 3]
    await exchange(socket, "ClearChargingProfile", {"chargingProfileId": 1}, {"status": "Accepted"})
    assert [p.charging_profile_id async for p in installed()] == [2, 3]
    criteria = {"chargingProfileCriteria": {"chargingProfilePurpose": "ChargingStationMaxProfile"}}
    await exchange(socket, "ClearChargingProfile", criteria, {"status": "Accepted"})
    assert [p.charging_profile_id async for p in installed()] == [2]


async def test_a_composite_schedule_is_kept_per_evse(charge_point_socket):
    socket = await station_201(charge_point_socket)
    composite = {
        "evseId": 1,
        "duration": 3600,
        "scheduleStart": "2026-12-01T10:00:00Z",
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0}],
    }
    asked = {"duration": 3600, "chargingRateUnit": "W", "evseId": 1}
    await exchange(
        socket, "GetCompositeSchedule", asked, {"status": "Accepted", "schedule": composite}
    )
    stored = await CompositeSchedule.objects.aget()
    assert (stored.connector_id, stored.schedule, stored.schedule_start.isoformat()) == (
        1,
        composite,
        "2026-12-01T10:00:00+00:00",
    )
    await exchange(socket, "GetCompositeSchedule", asked, {"status": "Rejected"})
    stored = await CompositeSchedule.objects.aget()
    assert (stored.schedule, stored.schedule_start) == (None, None)


async def test_external_limits_are_recorded_per_evse_and_cleared(charge_point_socket):
    socket = await station_201(charge_point_socket)
    limit_schedule = [schedule(10)]
    notified = {
        "chargingLimit": {"chargingLimitSource": "SO", "isGridCritical": True},
        "chargingSchedule": limit_schedule,
        "evseId": 1,
    }
    assert await answer_201(socket, "NotifyChargingLimit", notified, "l1") == {}
    station_wide = {"chargingLimit": {"chargingLimitSource": "EMS"}}
    assert await answer_201(socket, "NotifyChargingLimit", station_wide, "l2") == {}
    limits = {
        (limit.connector_id, limit.source): (limit.is_grid_critical, limit.schedule)
        async for limit in ExternalChargingLimit.objects.filter(cleared_at__isnull=True)
    }
    assert limits == {(1, "SO"): (True, limit_schedule), (0, "EMS"): (None, None)}

    cleared = {"chargingLimitSource": "SO", "evseId": 1}
    assert await answer_201(socket, "ClearedChargingLimit", cleared, "c1") == {}
    active = [
        (limit.connector_id, limit.source)
        async for limit in ExternalChargingLimit.objects.filter(cleared_at__isnull=True)
    ]
    assert active == [(0, "EMS")]


async def test_ev_charging_needs_and_schedule_are_kept_on_the_running_session(
    charge_point_socket,
):
    socket = await station_201(charge_point_socket)
    session = await start_session(socket)
    needs = {
        "requestedEnergyTransfer": "AC_three_phase",
        "departureTime": "2026-12-01T18:00:00Z",
        "acChargingParameters": {
            "energyAmount": 20000,
            "evMinCurrent": 6,
            "evMaxCurrent": 32,
            "evMaxVoltage": 400,
        },
    }
    answered = await answer_201(
        socket,
        "NotifyEVChargingNeeds",
        {"evseId": 1, "maxScheduleTuples": 3, "chargingNeeds": needs},
        "n1",
    )
    assert answered == {"status": "Rejected"}  # no schedule of ours follows
    ev_schedule = schedule(32, startSchedule="2026-12-01T10:05:00Z")
    answered = await answer_201(
        socket,
        "NotifyEVChargingSchedule",
        {"timeBase": "2026-12-01T10:05:00Z", "evseId": 1, "chargingSchedule": ev_schedule},
        "s1",
    )
    assert answered == {"status": "Accepted"}

    stored = await EVChargingNeeds.objects.aget()
    assert (
        stored.transaction_id,
        stored.connector_id,
        stored.requested_energy_transfer,
        stored.departure_time.isoformat(),
        stored.max_schedule_tuples,
        stored.needs,
        stored.schedule,
        stored.schedule_time_base.isoformat(),
    ) == (
        session.pk,
        1,
        "AC_three_phase",
        "2026-12-01T18:00:00+00:00",
        3,
        needs,
        ev_schedule,
        "2026-12-01T10:05:00+00:00",
    )

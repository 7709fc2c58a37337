"""The command path's own rules: the policy, the answer table, and what gets recorded."""

from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async

from api_support.testing import make_charge_point, make_driver, make_operator, make_session
from ocpp_consumer import commands
from ocpp_consumer.commands.actions_201 import CSMS_ACTIONS
from ocpp_consumer.commands.answers import ANSWER_APPLIERS, command_answer_apply
from ocpp_consumer.commands.policy import (
    DRIVER_ACTIONS,
    Requester,
    command_action_permitted,
    command_refusal,
)
from ocpp_consumer.models import Command, CommandStatus
from stations.models import ChargingProfile, Reservation, ReservationStatus

START = "RemoteStartTransaction"
STOP = "RemoteStopTransaction"


def test_every_answer_applier_belongs_to_a_central_system_action():
    assert set(ANSWER_APPLIERS) <= commands.CS_TO_CP_ACTIONS
    assert DRIVER_ACTIONS <= commands.CS_TO_CP_ACTIONS | CSMS_ACTIONS  # 1.6 and 2.0.1


@pytest.mark.django_db
@pytest.mark.parametrize("action", sorted(commands.CS_TO_CP_ACTIONS))
def test_operators_and_the_system_may_send_anything(action, django_assert_num_queries):
    for requester in (commands.SYSTEM, Requester(user_id=1)):
        assert command_action_permitted(requester=requester, action=action)
        with django_assert_num_queries(0):  # decided without looking anything up
            refusal = command_refusal(
                requester=requester, charge_point_pk=1, action=action, payload={}
            )
        assert refusal is None


def test_drivers_may_only_start_and_stop():
    driver = Requester(user_id=1, is_driver=True)
    allowed = {
        a for a in commands.CS_TO_CP_ACTIONS if command_action_permitted(requester=driver, action=a)
    }
    assert allowed == {START, STOP}
    refusal = command_refusal(requester=driver, charge_point_pk=1, action="Reset", payload={})
    assert refusal == "Drivers may only start and stop charging."


@pytest.mark.django_db
def test_driver_start_and_stop_of_their_own():
    charge_point = make_charge_point("CP1", is_online=True, connectors={1: "Preparing"})
    alice = Requester(user_id=make_driver("alice", "ALICE-1").pk, is_driver=True)
    session = make_session(charge_point, "ALICE-1")

    def refusal(action, payload):
        return command_refusal(
            requester=alice, charge_point_pk=charge_point.pk, action=action, payload=payload
        )

    assert refusal(START, {"idTag": "alice-1"}) is None  # any case, any free connector
    assert refusal(START, {"idTag": "ALICE-1", "connectorId": 1}) is None
    assert refusal(STOP, {"transactionId": session.pk}) is None
    other = make_charge_point("CP2", is_online=True, connectors={1: "Available"})
    assert "Not an open transaction" in command_refusal(
        requester=alice,
        charge_point_pk=other.pk,
        action=STOP,
        payload={"transactionId": session.pk},
    )


@pytest.mark.django_db(transaction=True)
async def test_only_an_operators_command_to_an_offline_charge_point_is_recorded():
    await sync_to_async(make_charge_point)("CP1", is_online=False)
    operator = await sync_to_async(make_operator)()
    driver = await sync_to_async(make_driver)("alice", "ALICE-1")
    for requester in (Requester(user_id=driver.pk, is_driver=True), Requester(user_id=operator.pk)):
        with pytest.raises(commands.ChargePointOffline):
            await commands.command_send(
                charge_point_id="CP1",
                action=START,
                payload={"idTag": "ALICE-1"},
                requester=requester,
            )
    recorded = [(c.status, c.requested_by_id) async for c in Command.objects.all()]
    assert recorded == [(CommandStatus.OFFLINE, operator.pk)]


@pytest.mark.django_db
def test_a_refused_answer_changes_nothing_an_accepted_one_calls_the_domain():
    charge_point = make_charge_point("CP1")
    reserve = {
        "connectorId": 1,
        "expiryDate": "2030-01-01T12:00:00Z",
        "idTag": "TAG-1",
        "reservationId": 7,
    }
    command_answer_apply(
        charge_point_pk=charge_point.pk,
        action="ReserveNow",
        request=reserve,
        response={"status": "Accepted"},
    )
    reservation = Reservation.objects.get()
    assert (reservation.status, reservation.parent_id_tag) == (ReservationStatus.ACCEPTED, "")
    assert reservation.expiry_date == datetime(2030, 1, 1, 12, tzinfo=UTC)
    for status, expected in (("Rejected", ReservationStatus.ACCEPTED), ("Accepted", "cancelled")):
        command_answer_apply(
            charge_point_pk=charge_point.pk,
            action="CancelReservation",
            request={"reservationId": 7},
            response={"status": status},
        )
        assert Reservation.objects.get().status == expected


@pytest.mark.django_db
def test_clear_charging_profile_answer_clears_by_every_criterion_given():
    charge_point = make_charge_point("CP1")
    for profile_id, purpose in ((1, "TxDefaultProfile"), (2, "ChargePointMaxProfile")):
        command_answer_apply(
            charge_point_pk=charge_point.pk,
            action="SetChargingProfile",
            request={
                "connectorId": 0,
                "csChargingProfiles": {
                    "chargingProfileId": profile_id,
                    "stackLevel": 0,
                    "chargingProfilePurpose": purpose,
                    "chargingProfileKind": "Absolute",
                    "chargingSchedule": {
                        "chargingRateUnit": "W",
                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400.5}],
                    },
                },
            },
            response={"status": "Accepted"},
        )
    command_answer_apply(
        charge_point_pk=charge_point.pk,
        action="ClearChargingProfile",
        request={"connectorId": 0, "chargingProfilePurpose": "ChargePointMaxProfile"},
        response={"status": "Accepted"},
    )
    installed = ChargingProfile.objects.filter(cleared_at__isnull=True)
    assert list(installed.values_list("charging_profile_id", flat=True)) == [1]
    assert str(installed.get().periods.get().limit) == "7400.5"


def test_an_authorization_key_we_could_not_store_is_refused_before_sending():
    command_validate, InvalidPayload = commands.command_validate, commands.InvalidPayload
    change = {"key": "AuthorizationKey", "value": "too-short"}
    with pytest.raises(InvalidPayload, match="value: Ensure this value has at least 16"):
        command_validate(action="ChangeConfiguration", payload=change)
    command_validate(action="ChangeConfiguration", payload=change | {"value": "k" * 40})
    command_validate(
        action="ChangeConfiguration", payload={"key": "HeartbeatInterval", "value": "1"}
    )

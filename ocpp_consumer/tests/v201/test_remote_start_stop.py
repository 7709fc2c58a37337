"""RequestStartTransaction / RequestStopTransaction: drivers' rules as for 1.6, and the link
from a remote start to its session."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api_support.testing import make_charge_point, make_driver, make_session
from ocpp_consumer.commands.actions_201 import ANSWER_APPLIERS
from ocpp_consumer.commands.policy import Requester, command_refusal
from stations.models import Transaction
from stations.services.transaction_events import transaction_pk_for_remote_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def charge_point():
    return make_charge_point("CP201", is_online=True, connectors={1: "Available", 2: "Charging"})


def driver(*tags):
    return Requester(user_id=make_driver(None, *tags).pk, is_driver=True)


def start_payload(id_token="MINE-1", **fields):
    return {"idToken": {"idToken": id_token, "type": "Central"}, "remoteStartId": 7, **fields}


def refusal(requester, charge_point, action, payload):
    return command_refusal(
        requester=requester, charge_point_pk=charge_point.pk, action=action, payload=payload
    )


def test_a_driver_starts_with_an_own_accepted_tag_on_a_free_evse(charge_point):
    me = driver("MINE-1")
    assert refusal(me, charge_point, "RequestStartTransaction", start_payload(evseId=1)) is None
    assert refusal(me, charge_point, "RequestStartTransaction", start_payload()) is None


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (start_payload("SOMEONE-ELSE"), "Use one of your own id tags."),
        (start_payload(evseId=2), "No connector is free to start charging."),
        (
            start_payload(chargingProfile={"id": 1}),
            "Drivers cannot set a charging profile.",
        ),
    ],
)
def test_a_driver_may_not_start_otherwise(charge_point, payload, reason):
    assert refusal(driver("MINE-1"), charge_point, "RequestStartTransaction", payload) == reason


def test_a_driver_stops_only_an_own_running_session_by_the_chargers_id(charge_point):
    me = driver("MINE-1")
    mine = make_session(charge_point, "MINE-1", ocpp_transaction_id="tx-mine")
    make_session(charge_point, "THEIRS", connector_id=2, ocpp_transaction_id="tx-theirs")
    assert mine.is_open

    def stop(tx):
        return refusal(me, charge_point, "RequestStopTransaction", {"transactionId": tx})

    assert stop("tx-mine") is None
    refused = "Not an open transaction of yours on this charge point."
    assert stop("tx-theirs") == refused
    assert stop("no-such-tx") == refused


def test_operators_may_send_both(charge_point):
    operator = Requester(user_id=None)
    assert refusal(operator, charge_point, "RequestStartTransaction", start_payload("ANY")) is None
    assert refusal(operator, charge_point, "RequestStopTransaction", {"transactionId": "x"}) is None


def test_an_accepted_remote_start_names_the_session_already_running(charge_point):
    session = make_session(charge_point, "MINE-1", ocpp_transaction_id="plugged-first")
    ANSWER_APPLIERS["RequestStartTransaction"](
        charge_point_pk=charge_point.pk,
        request=start_payload(remoteStartId=31),
        response={"status": "Accepted", "transactionId": "plugged-first"},
    )
    assert Transaction.objects.get(pk=session.pk).remote_start_id == 31
    assert (
        transaction_pk_for_remote_start(
            charge_point_pk=charge_point.pk,
            remote_start_id=31,
            since=datetime(2000, 1, 1, tzinfo=UTC),
        )
        == session.pk
    )

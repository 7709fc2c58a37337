"""OCPP 2.0.1 local authorization lists: the same records as 1.6, in idToken terms.

The payloads are built by `local_list_payloads` (the console's builder) for
a 1.6 and a 2.0.1 charge point from the same id tags; the 2.0.1 answers go
through `commands.command_send` and are recorded in the same LocalAuthList.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async

from drivers.models import IdTag, LocalAuthList
from ocpp_consumer import commands
from ocpp_consumer.framing import V201, validate_request
from ocpp_consumer.local_lists import local_list_payload, local_list_payloads
from stations.models import ChargePoint

from ..test_api_commands import answer, next_call
from .station import station_201

EXPIRY = datetime(2027, 1, 1, 12, 30, tzinfo=UTC)
CARD = {"type": "ISO14443"}


def make_tags() -> tuple[IdTag, IdTag]:
    fleet = IdTag.objects.create(id_tag="FLEET")
    alice = IdTag.objects.create(id_tag="ALICE", expiry_date=EXPIRY, parent=fleet)
    bob = IdTag.objects.create(id_tag="BOB", status="Blocked")
    return alice, bob


@pytest.mark.django_db
def test_a_full_list_is_built_from_the_same_records_in_each_version():
    old = ChargePoint.objects.create(charge_point_id="CP16")
    new = ChargePoint.objects.create(charge_point_id="CP201", ocpp_version=V201)
    alice, bob = make_tags()
    payloads = local_list_payloads(
        charge_point_pks=[old.pk, new.pk], selected=[alice, bob], mode="replace"
    )
    assert payloads[old.pk] == {
        "listVersion": 1,
        "updateType": "Full",
        "localAuthorizationList": [
            {
                "idTag": "ALICE",
                "idTagInfo": {
                    "status": "Accepted",
                    "expiryDate": "2027-01-01T12:30:00.000Z",
                    "parentIdTag": "FLEET",
                },
            },
            {"idTag": "BOB", "idTagInfo": {"status": "Blocked"}},
        ],
    }
    assert payloads[new.pk] == {
        "versionNumber": 1,
        "updateType": "Full",
        "localAuthorizationList": [
            {
                "idToken": {"idToken": "ALICE", **CARD},
                "idTokenInfo": {
                    "status": "Accepted",
                    "cacheExpiryDateTime": "2027-01-01T12:30:00.000Z",
                    "groupIdToken": {"idToken": "FLEET", "type": "Central"},
                },
            },
            {"idToken": {"idToken": "BOB", **CARD}, "idTokenInfo": {"status": "Blocked"}},
        ],
    }
    validate_request("SendLocalList", payloads[new.pk], V201)


@pytest.mark.django_db
def test_an_empty_full_list_leaves_the_list_out_as_2_0_1_requires():
    new = ChargePoint.objects.create(charge_point_id="CP201", ocpp_version=V201)
    payload = local_list_payload(charge_point_pk=new.pk, id_tags=[])
    assert payload == {"versionNumber": 1, "updateType": "Full"}
    validate_request("SendLocalList", payload, V201)


async def exchange(socket, action: str, payload: dict, reply: dict):
    """Send a command, answer it as the station; return the command's record."""
    sending = asyncio.ensure_future(
        commands.command_send(charge_point_id="CP201", action=action, payload=payload)
    )
    frame = await next_call(socket, action)
    assert frame[3] == payload
    await answer(socket, frame, reply)
    return await sending


@sync_to_async
def payloads_for(charge_point_id: str, selected: list[str], mode: str) -> dict:
    charge_point = ChargePoint.objects.get(charge_point_id=charge_point_id)
    tags = IdTag.objects.filter(id_tag__in=selected)
    return local_list_payloads(charge_point_pks=[charge_point.pk], selected=tags, mode=mode)[
        charge_point.pk
    ]


@sync_to_async
def listed(charge_point_id: str) -> tuple[int, int | None, list[str]]:
    current = LocalAuthList.objects.get(charge_point__charge_point_id=charge_point_id)
    names = sorted(current.id_tags.values_list("id_tag", flat=True))
    return current.version, current.reported_version, names


@pytest.mark.django_db(transaction=True)
async def test_full_then_differential_updates_are_recorded_when_accepted(charge_point_socket):
    socket = await station_201(charge_point_socket)
    await sync_to_async(make_tags)()

    full = await payloads_for("CP201", ["ALICE", "BOB"], "replace")
    command = await exchange(socket, "SendLocalList", full, {"status": "Accepted"})
    assert command.status == "answered"
    assert await listed("CP201") == (1, None, ["ALICE", "BOB"])

    removal = await payloads_for("CP201", ["BOB"], "remove")
    assert removal == {
        "versionNumber": 2,
        "updateType": "Differential",
        "localAuthorizationList": [
            {
                "idToken": {"idToken": "ALICE", **CARD},
                "idTokenInfo": {
                    "status": "Accepted",
                    "cacheExpiryDateTime": "2027-01-01T12:30:00.000Z",
                    "groupIdToken": {"idToken": "FLEET", "type": "Central"},
                },
            },
            {"idToken": {"idToken": "BOB", **CARD}},  # no idTokenInfo: remove it
        ],
    }
    await exchange(socket, "SendLocalList", removal, {"status": "VersionMismatch"})
    assert await listed("CP201") == (1, None, ["ALICE", "BOB"])  # refused: unchanged
    await exchange(socket, "SendLocalList", removal, {"status": "Accepted"})
    assert await listed("CP201") == (2, None, ["ALICE"])

    await exchange(socket, "GetLocalListVersion", {}, {"versionNumber": 2})
    assert await listed("CP201") == (2, 2, ["ALICE"])

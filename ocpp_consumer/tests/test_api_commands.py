"""Commands through the REST API, against a real charge point socket.

The charge point is a WebsocketCommunicator on the ASGI app with the
in-memory channel layer; the API request runs in a worker thread (as under
Daphne), so `command_send_sync` reaches the consumer on this event loop.
"""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from ocpp.charge_point import camel_to_snake_case

from api_support.testing import client_for, make_driver, make_operator, make_session
from ocpp_consumer.models import Command, CommandStatus
from stations.models import ChargePoint

from .conftest import assert_call_result
from .test_commands import ROUND_TRIPS

pytestmark = pytest.mark.django_db(transaction=True)

COMMANDS = "/api/v1/charge-points/CP1/commands/"


def _post(client, path, body, headers):
    try:
        return client.post(path, body, format="json", headers=headers)
    finally:
        connections.close_all()  # this worker thread's connection


def api_post(client, path, body, headers=None) -> asyncio.Task:
    """POST from a worker thread, as Daphne runs a sync view; returns the pending task."""
    call = sync_to_async(_post, thread_sensitive=False)
    return asyncio.ensure_future(call(client, path, body, headers or {}))


async def next_call(socket, action: str) -> list:
    frame = await socket.next_frame()
    assert len(frame) == 4 and frame[0] == 2 and frame[2] == action, frame
    return frame


async def answer(socket, frame: list, payload: dict) -> None:
    await socket.send_text(json.dumps([3, frame[1], payload]))


@sync_to_async
def operator_client(*perms):
    return client_for(make_operator(*perms or ("stations.change_chargepoint",)))


async def status_available(socket, connector_id=1):
    result = await socket.call(
        "StatusNotification",
        {"connectorId": connector_id, "errorCode": "NoError", "status": "Available"},
    )
    assert_call_result(result, result[1])


@pytest.mark.parametrize(
    ("action", "payload", "reply"), ROUND_TRIPS, ids=[r[0] for r in ROUND_TRIPS]
)
async def test_every_command_round_trips_through_the_api(
    charge_point_socket, action, payload, reply
):
    """snake_case body -> the exact camelCase CALL; the answer -> snake_case JSON."""
    from ocpp_consumer.api.views import kebab_case

    socket = await charge_point_socket("CP1")
    client = await operator_client()
    pending = api_post(client, f"{COMMANDS}{kebab_case(action)}/", camel_to_snake_case(payload))
    frame = await next_call(socket, action)
    assert frame[3] == payload
    await answer(socket, frame, reply)
    response = await pending
    assert response.status_code == 200, response.content
    command = await Command.objects.aget()
    expected = {
        "status": reply.get("status", "Answered"),  # never null (serializers.answer_status)
        "response": camel_to_snake_case(reply),
    }
    if action == "RemoteStartTransaction":
        expected["command_id"] = command.pk  # a start's answer names its command
    assert response.json() == expected
    assert command.status == CommandStatus.ANSWERED
    assert command.source == "api"


async def test_reset_answer_and_history(charge_point_socket):
    socket = await charge_point_socket("CP1")
    operator = await sync_to_async(make_operator)(
        "stations.change_chargepoint", "ocpp_consumer.view_command"
    )
    client = await sync_to_async(client_for)(operator)
    pending = api_post(client, f"{COMMANDS}reset/", {"type": "Soft"})
    frame = await next_call(socket, "Reset")
    assert frame[3] == {"type": "Soft"}
    await answer(socket, frame, {"status": "Accepted"})
    response = await pending
    assert response.status_code == 200
    assert response.json() == {"status": "Accepted", "response": {"status": "Accepted"}}

    history = (await sync_to_async(client.get)(COMMANDS)).json()
    assert history["count"] == 1
    [entry] = history["results"]
    assert entry["action"] == "Reset"
    assert entry["status"] == "answered"
    assert entry["payload"] == {"type": "Soft"}
    assert entry["response"] == {"status": "Accepted"}
    assert entry["requested_by"] == operator.username
    assert entry["unique_id"] == frame[1]


async def test_call_error_answers_502_with_its_code(charge_point_socket):
    socket = await charge_point_socket("CP1")
    client = await operator_client()
    pending = api_post(client, f"{COMMANDS}unlock-connector/", {"connector_id": 1})
    frame = await next_call(socket, "UnlockConnector")
    await socket.send_text(json.dumps([4, frame[1], "NotSupported", "no lock here", {}]))
    response = await pending
    assert response.status_code == 502
    assert response.json() == {"detail": "no lock here", "error_code": "NotSupported"}


async def test_an_answer_breaking_the_schema_answers_502(charge_point_socket):
    socket = await charge_point_socket("CP1")
    client = await operator_client()
    pending = api_post(client, f"{COMMANDS}reset/", {"type": "Hard"})
    frame = await next_call(socket, "Reset")
    await answer(socket, frame, {"status": "Maybe"})
    response = await pending
    assert response.status_code == 502
    assert response.json()["error_code"] == "InvalidResponse"


async def test_no_answer_in_time_answers_504(charge_point_socket, settings):
    settings.OCPP_CALL_TIMEOUT = 0.5
    socket = await charge_point_socket("CP1")
    client = await operator_client()
    pending = api_post(client, f"{COMMANDS}clear-cache/", {})
    await next_call(socket, "ClearCache")
    response = await pending
    assert response.status_code == 504
    assert "detail" in response.json()
    assert (await Command.objects.aget()).status == CommandStatus.TIMED_OUT


async def test_idempotency_key_replays_without_a_second_call(charge_point_socket):
    socket = await charge_point_socket("CP1")
    client = await operator_client()
    headers = {"Idempotency-Key": "reset-2026-11-26-1"}
    pending = api_post(client, f"{COMMANDS}reset/", {"type": "Soft"}, headers)
    frame = await next_call(socket, "Reset")
    await answer(socket, frame, {"status": "Accepted"})
    first = await pending
    assert first.status_code == 200

    again = await api_post(client, f"{COMMANDS}reset/", {"type": "Soft"}, headers)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert await socket.receive_nothing(timeout=0.3), "the command was sent twice"
    assert await Command.objects.acount() == 1

    other = await api_post(client, f"{COMMANDS}reset/", {"type": "Hard"}, headers)
    assert other.status_code == 422
    assert await socket.receive_nothing(timeout=0.2)


async def test_driver_starts_charging_with_own_tag(charge_point_socket):
    socket = await charge_point_socket("CP1")
    await status_available(socket)
    alice = await sync_to_async(make_driver)("alice", "ALICE-1")
    client = await sync_to_async(client_for)(alice)
    pending = api_post(
        client, f"{COMMANDS}remote-start-transaction/", {"connector_id": 1, "id_tag": "alice-1"}
    )
    frame = await next_call(socket, "RemoteStartTransaction")
    assert frame[3] == {"connectorId": 1, "idTag": "alice-1"}
    await answer(socket, frame, {"status": "Accepted"})
    response = await pending
    assert response.status_code == 200
    assert response.json()["status"] == "Accepted"
    command = await Command.objects.aget()
    assert command.requested_by_id == alice.pk


async def test_driver_stops_own_transaction(charge_point_socket):
    socket = await charge_point_socket("CP1")
    alice = await sync_to_async(make_driver)("alice", "ALICE-1")
    charge_point = await ChargePoint.objects.aget(charge_point_id="CP1")
    session = await sync_to_async(make_session)(charge_point, "ALICE-1")
    client = await sync_to_async(client_for)(alice)
    pending = api_post(
        client, f"{COMMANDS}remote-stop-transaction/", {"transaction_id": session.pk}
    )
    frame = await next_call(socket, "RemoteStopTransaction")
    assert frame[3] == {"transactionId": session.pk}
    await answer(socket, frame, {"status": "Accepted"})
    assert (await pending).status_code == 200


async def test_refused_driver_command_sends_nothing(charge_point_socket):
    socket = await charge_point_socket("CP1")
    await status_available(socket)
    await sync_to_async(make_driver)("bob", "BOB-1")
    alice = await sync_to_async(make_driver)("alice", "ALICE-1")
    client = await sync_to_async(client_for)(alice)
    response = await api_post(
        client, f"{COMMANDS}remote-start-transaction/", {"connector_id": 1, "id_tag": "BOB-1"}
    )
    assert response.status_code == 403
    assert await socket.receive_nothing(timeout=0.3)
    assert await Command.objects.acount() == 0

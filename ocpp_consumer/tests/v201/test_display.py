"""OCPP 2.0.1 display messages: set, listed by the station (NotifyDisplayMessages), cleared."""

from __future__ import annotations

import pytest

from devicemodel.models import DisplayMessage

from .station import answer_201, station_201
from .test_monitoring import exchange

pytestmark = pytest.mark.django_db(transaction=True)

WELCOME = {
    "id": 5,
    "priority": "InFront",
    "state": "Idle",
    "message": {"format": "UTF8", "language": "en", "content": "Welcome!"},
}


async def shown() -> list[tuple]:
    return [
        (m.message_id, m.priority, m.state, m.content, m.set_status, m.reported_at is not None)
        async for m in DisplayMessage.objects.order_by("message_id")
    ]


async def test_a_message_set_listed_and_cleared(charge_point_socket):
    socket = await station_201(charge_point_socket)
    await exchange(socket, "SetDisplayMessage", {"message": WELCOME}, {"status": "Accepted"})
    assert await shown() == [(5, "InFront", "Idle", "Welcome!", "Accepted", False)]

    await exchange(socket, "GetDisplayMessages", {"requestId": 2}, {"status": "Accepted"})
    other = {
        "id": 6,
        "priority": "NormalCycle",
        "startDateTime": "2026-01-01T08:00:00Z",
        "message": {"format": "ASCII", "content": "Maintenance at noon"},
    }
    listing = {"requestId": 2, "messageInfo": [WELCOME, other]}
    assert await answer_201(socket, "NotifyDisplayMessages", listing, "n1") == {}
    assert await shown() == [
        (5, "InFront", "Idle", "Welcome!", "Accepted", True),
        (6, "NormalCycle", "", "Maintenance at noon", "", True),
    ]
    assert (await DisplayMessage.objects.aget(message_id=6)).start_at.hour == 8

    await exchange(socket, "ClearDisplayMessage", {"id": 5}, {"status": "Accepted"})
    assert [row[0] for row in await shown()] == [6]


async def test_a_refused_message_is_kept_with_the_reason_and_replaces_nothing(
    charge_point_socket,
):
    socket = await station_201(charge_point_socket)
    await exchange(socket, "SetDisplayMessage", {"message": WELCOME}, {"status": "Accepted"})
    html = {**WELCOME, "message": {"format": "HTML", "content": "<b>Hi</b>"}}
    await exchange(
        socket, "SetDisplayMessage", {"message": html}, {"status": "NotSupportedMessageFormat"}
    )
    assert await shown() == [(5, "InFront", "Idle", "Welcome!", "NotSupportedMessageFormat", False)]

"""`manage.py ocpp_command` to an OCPP 2.0.1 station: the same command path, 2.0.1 actions."""

from __future__ import annotations

import asyncio
import json
from io import StringIO

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from ocpp_consumer.models import Command

from .station import station_201

pytestmark = pytest.mark.django_db(transaction=True)


def run_ocpp_command(*args: str) -> str:
    out = StringIO()
    try:
        call_command("ocpp_command", *args, stdout=out)
    finally:
        connections.close_all()  # this worker thread's connection
    return out.getvalue()


async def test_a_201_action_is_sent_and_its_answer_printed(charge_point_socket):
    socket = await station_201(charge_point_socket)
    running = sync_to_async(run_ocpp_command, thread_sensitive=False)(
        "CP201", "Reset", json.dumps({"type": "Immediate"})
    )
    pending = asyncio.ensure_future(running)
    frame = await socket.next_frame()
    assert frame[2:] == ["Reset", {"type": "Immediate"}]
    await socket.send_json_to([3, frame[1], {"status": "Accepted"}])
    assert json.loads(await pending) == {"status": "Accepted"}
    assert (await Command.objects.aget()).source == "cli"


async def test_a_1_6_action_is_refused_naming_the_version(charge_point_socket):
    await station_201(charge_point_socket)
    with pytest.raises(CommandError) as refused:
        await sync_to_async(run_ocpp_command, thread_sensitive=False)(
            "CP201", "RemoteStartTransaction", '{"idTag": "T"}'
        )
    assert str(refused.value) == (
        "RemoteStartTransaction is not an OCPP 2.0.1 command (the charge point speaks OCPP 2.0.1)"
    )
    assert not await Command.objects.aexists()

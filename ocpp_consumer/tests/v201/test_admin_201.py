"""The console's command page and bulk actions for an OCPP 2.0.1 charge point."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.contrib.messages import get_messages
from django.urls import reverse

from ocpp_consumer.models import Command, CommandStatus
from stations.models import ChargePoint
from stations.services import chargepoint_create

from .station import station_201

pytestmark = pytest.mark.django_db(transaction=True)


def command_url(charge_point):
    return reverse("admin:stations_chargepoint_command", args=[charge_point.pk])


def texts(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def in_thread(func):
    """Run a request as Daphne runs a sync view: in a thread tied to this event loop."""
    return sync_to_async(func, thread_sensitive=False)


def charger_201(charge_point_id="CP-201"):
    charge_point = chargepoint_create(charge_point_id=charge_point_id)
    ChargePoint.objects.filter(pk=charge_point.pk).update(ocpp_version="2.0.1")
    charge_point.refresh_from_db()
    return charge_point


def test_the_page_offers_the_201_actions_with_201_examples(admin_client):
    charge_point = charger_201()
    response = admin_client.get(command_url(charge_point) + "?action=UnlockConnector")
    assert response.status_code == 200
    form = response.context["form"]
    # The actions come in groups (<optgroup>): Sessions, Availability & reset, ...
    offered = {value for _group, choices in form.fields["action"].choices for value, _ in choices}
    assert {"RequestStartTransaction", "GetVariables", "Reset", "UnlockConnector"} <= offered
    assert not offered & {"RemoteStartTransaction", "GetConfiguration", "ChangeConfiguration"}
    assert form.initial["payload"] == {"evseId": 1, "connectorId": 1}
    examples = response.context["examples"]
    assert examples["Reset"] == {"type": "OnIdle"}
    assert set(examples) == offered  # every action offered has its example
    assert "OCPP 2.0.1 JSON" in response.content.decode()


def test_a_1_6_action_is_not_offered_and_nothing_is_sent(admin_client):
    charge_point = charger_201()
    response = admin_client.post(
        command_url(charge_point),
        {"action": "RemoteStartTransaction", "payload": '{"idTag": "T"}'},
    )
    assert response.status_code == 200
    assert "action" in response.context["form"].errors
    assert not Command.objects.exists()


def test_a_1_6_payload_fails_the_201_schema_as_a_form_error(admin_client):
    charge_point = charger_201()
    response = admin_client.post(
        command_url(charge_point), {"action": "Reset", "payload": '{"type": "Soft"}'}
    )
    assert response.status_code == 200
    assert "Soft" in response.context["form"].errors["payload"][0]
    assert not Command.objects.exists()


async def test_a_201_command_from_the_console_reaches_the_station(
    admin_client, charge_point_socket
):
    socket = await station_201(charge_point_socket, "CP-201")
    charge_point = await ChargePoint.objects.aget(charge_point_id="CP-201")
    posting = asyncio.create_task(
        in_thread(admin_client.post)(
            command_url(charge_point),
            {"action": "UnlockConnector", "payload": '{"evseId": 1, "connectorId": 2}'},
        )
    )
    frame = await socket.next_frame()
    assert frame[2:] == ["UnlockConnector", {"evseId": 1, "connectorId": 2}]
    await socket.send_json_to([3, frame[1], {"status": "Unlocked"}])
    response = await posting
    assert response.status_code == 302
    assert texts(response) == ['CP-201: UnlockConnector: {"status": "Unlocked"}']
    command = await Command.objects.aget()
    assert (command.status, command.source) == (CommandStatus.ANSWERED, "admin")


async def test_bulk_actions_send_each_version_its_own_request(admin_client, charge_point_socket):
    v16 = await charge_point_socket("CP-16")
    v201 = await station_201(charge_point_socket, "CP-201")
    selected = [cp.pk async for cp in ChargePoint.objects.all()]
    posting = asyncio.create_task(
        in_thread(admin_client.post)(
            reverse("admin:stations_chargepoint_changelist"),
            {"action": "send_make_inoperative", "_selected_action": selected},
        )
    )
    frame_16, frame_201 = await v16.next_frame(), await v201.next_frame()
    assert frame_16[2:] == ["ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}]
    assert frame_201[2:] == ["ChangeAvailability", {"operationalStatus": "Inoperative"}]
    await v16.send_json_to([3, frame_16[1], {"status": "Accepted"}])
    await v201.send_json_to([3, frame_201[1], {"status": "Scheduled"}])
    response = await posting
    assert sorted(texts(response)) == [
        'CP-16: ChangeAvailability: {"status": "Accepted"}',
        'CP-201: ChangeAvailability: {"status": "Scheduled"}',
    ]

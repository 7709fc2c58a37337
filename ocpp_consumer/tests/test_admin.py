"""The console's command page, bulk command actions, and the journal pages."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from django.contrib.messages import get_messages
from django.urls import reverse

from ocpp_consumer.journal import journal
from ocpp_consumer.models import Command, CommandStatus, JournalEntry
from stations.models import ChargePoint
from stations.services import chargepoint_create

pytestmark = pytest.mark.django_db(transaction=True)


def in_thread(func):
    """Run a request as Daphne runs a sync view: in a thread tied to this event loop."""
    return sync_to_async(func, thread_sensitive=False)


def command_url(charge_point):
    return reverse("admin:stations_chargepoint_command", args=[charge_point.pk])


def texts(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_command_page_offers_every_action_with_an_example(admin_client):
    charge_point = chargepoint_create(charge_point_id="CP-A")
    response = admin_client.get(command_url(charge_point) + "?action=UnlockConnector")
    assert response.status_code == 200
    content = response.content.decode()
    assert 'value="SetChargingProfile"' in content and 'value="TriggerMessage"' in content
    assert "&quot;connectorId&quot;: 1" in content  # the example payload of the chosen action


def test_invalid_payload_is_a_form_error_and_nothing_is_sent(admin_client):
    charge_point = chargepoint_create(charge_point_id="CP-A")
    response = admin_client.post(
        command_url(charge_point), {"action": "Reset", "payload": '{"type": "Warm"}'}
    )
    assert response.status_code == 200
    assert "Warm" in response.context["form"].errors["payload"][0]
    assert not Command.objects.exists()


def test_offline_charge_point_reports_offline(admin_client):
    charge_point = chargepoint_create(charge_point_id="CP-A")
    response = admin_client.post(
        command_url(charge_point), {"action": "Reset", "payload": '{"type": "Soft"}'}
    )
    assert response.status_code == 302
    assert any("not connected" in text for text in texts(response))
    assert Command.objects.get().status == CommandStatus.OFFLINE


async def test_command_from_the_console_reaches_the_charge_point(admin_client, charge_point_socket):
    cp = await charge_point_socket("CP-LIVE")
    charge_point = await ChargePoint.objects.aget(charge_point_id="CP-LIVE")
    posting = asyncio.create_task(
        in_thread(admin_client.post)(
            command_url(charge_point),
            {"action": "UnlockConnector", "payload": '{"connectorId": 2}'},
        )
    )
    frame = await cp.next_frame()
    assert frame[2:] == ["UnlockConnector", {"connectorId": 2}]
    await cp.send_json_to([3, frame[1], {"status": "Unlocked"}])
    response = await posting
    assert response.status_code == 302
    assert texts(response) == ['CP-LIVE: UnlockConnector: {"status": "Unlocked"}']
    command = await Command.objects.aget()
    assert (command.status, command.source) == (CommandStatus.ANSWERED, "admin")


async def test_bulk_reset_reaches_every_selected_charge_point(admin_client, charge_point_socket):
    sockets = [await charge_point_socket(f"CP-{n}") for n in (1, 2)]
    offline = await asyncio.to_thread(chargepoint_create, charge_point_id="CP-OFF")
    selected = [cp.pk async for cp in ChargePoint.objects.all()]
    posting = asyncio.create_task(
        in_thread(admin_client.post)(
            reverse("admin:stations_chargepoint_changelist"),
            {"action": "send_reset_soft", "_selected_action": selected},
        )
    )
    for cp in sockets:
        frame = await cp.next_frame()
        assert frame[2:] == ["Reset", {"type": "Soft"}]
        await cp.send_json_to([3, frame[1], {"status": "Accepted"}])
    response = await posting
    messages = sorted(texts(response))
    assert messages[:2] == [
        'CP-1: Reset: {"status": "Accepted"}',
        'CP-2: Reset: {"status": "Accepted"}',
    ]
    assert messages[2].startswith(f"{offline.charge_point_id}:") and "not connected" in messages[2]


async def test_journal_export_as_json_lines(admin_client, charge_point_socket):
    await charge_point_socket("CP-J")
    await journal.flush()
    entries = [e.pk async for e in JournalEntry.objects.all()]
    response = await sync_to_async(admin_client.post)(
        reverse("admin:ocpp_consumer_journalentry_changelist"),
        {"action": "export_json_lines", "_selected_action": entries},
    )
    # On the ORM's shared thread, whose connection the fixtures close.
    body = await sync_to_async(b"".join)(response.streaming_content)
    lines = [json.loads(line) for line in body.splitlines()]
    assert [(x["direction"], x["message_type"], x["action"]) for x in lines] == [
        ("in", 2, "BootNotification"),
        ("out", 3, "BootNotification"),
    ]
    assert lines[0]["charge_point_id"] == "CP-J"
    assert lines[0]["payload"]["chargePointVendor"] == "ACME"


def test_history_pages_render_and_refuse_edits(admin_client):
    charge_point = chargepoint_create(charge_point_id="CP-H")
    Command.objects.create(charge_point=charge_point, action="Reset", payload={"type": "Soft"})
    for name in ("command", "journalentry"):
        assert (
            admin_client.get(reverse(f"admin:ocpp_consumer_{name}_changelist")).status_code == 200
        )
        assert admin_client.get(reverse(f"admin:ocpp_consumer_{name}_add")).status_code == 403
    page = admin_client.get(reverse("admin:stations_chargepoint_change", args=[charge_point.pk]))
    assert b"Send command" in page.content and b"Reset" in page.content


async def test_local_list_action_sends_a_differential_add(admin_client, charge_point_socket):
    from drivers.models import IdTag, LocalAuthList

    cp = await charge_point_socket("CP-LL")
    charge_point = await ChargePoint.objects.aget(charge_point_id="CP-LL")
    tags = [await IdTag.objects.acreate(id_tag=name) for name in ("L-1", "L-2")]
    posting = asyncio.create_task(
        in_thread(admin_client.post)(
            reverse("admin:drivers_idtag_changelist"),
            {
                "action": "send_to_local_lists",
                "apply": "1",
                "_selected_action": [t.pk for t in tags],
                "charge_points": [charge_point.pk],
                "mode": "add",
            },
        )
    )
    frame = await cp.next_frame()
    assert frame[2] == "SendLocalList"
    assert frame[3]["updateType"] == "Differential" and frame[3]["listVersion"] == 1
    assert [e["idTag"] for e in frame[3]["localAuthorizationList"]] == ["L-1", "L-2"]
    await cp.send_json_to([3, frame[1], {"status": "Accepted"}])
    response = await posting
    assert texts(response) == ['CP-LL: SendLocalList: {"status": "Accepted"}']
    local_list = await LocalAuthList.objects.aget(charge_point=charge_point)
    assert local_list.version == 1
    assert await local_list.id_tags.acount() == 2


def test_local_list_action_shows_its_form_first(admin_client):
    from drivers.models import IdTag

    tag = IdTag.objects.create(id_tag="F-1")
    chargepoint_create(charge_point_id="CP-F")
    response = admin_client.post(
        reverse("admin:drivers_idtag_changelist"),
        {"action": "send_to_local_lists", "_selected_action": [tag.pk]},
    )
    assert response.status_code == 200
    assert b"CP-F" in response.content and b"<code>F-1</code>" in response.content


def test_reservation_and_profile_pages_render(admin_client):
    for name in ("reservation", "chargingprofile", "compositeschedule"):
        assert admin_client.get(reverse(f"admin:stations_{name}_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:drivers_localauthlist_changelist")).status_code == 200

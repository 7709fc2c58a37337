"""Quick actions, the typed command page and outcome badges, against live charge point sockets.

The console's POST runs in a worker thread (as under Daphne) while the
charge point's socket answers on the test's event loop; each test asserts
the exact frame the charger received and what the operator is told.
"""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.contrib.messages import constants, get_messages
from django.db import connection
from django.test import Client
from django.urls import reverse

from api_support.testing import make_operator, make_session
from ocpp_consumer.models import Command, CommandStatus
from stations.models import ChargePoint, Connector, Transaction

from .conftest import assert_call_result
from .v201.station import station_201

pytestmark = pytest.mark.django_db(transaction=True)

QUICK = "/admin/ocpp_consumer/command/quick/"
BACK = "/admin/stations/connector/?status__exact=Faulted"


def in_thread(func):
    """Run a request as Daphne runs a sync view: in a thread tied to this event loop.

    The thread gives its database connection back to the pool afterwards: the
    test client skips the request_finished cleanup, and executor threads that
    keep theirs exhaust the pool for the rest of the run.
    """

    def run(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        finally:
            connection.close()

    return sync_to_async(run, thread_sensitive=False)


def notices(response) -> list[tuple[int, str]]:
    return [(m.level, str(m)) for m in get_messages(response.wsgi_request)]


async def charger_answers(socket, answer: dict) -> list:
    """The CALL the charger received (exactly), answered with `answer`."""
    frame = await socket.next_frame()
    assert len(frame) == 4 and frame[0] == 2, frame
    await socket.send_json_to([3, frame[1], answer])
    return frame


async def quick(client, answer, socket, **fields):
    """POST a quick action while the charger answers; (frame received, response)."""
    posting = asyncio.create_task(in_thread(client.post)(QUICK, fields))
    receiving = asyncio.create_task(charger_answers(socket, answer))
    await asyncio.wait({posting, receiving}, return_when=asyncio.FIRST_COMPLETED)
    if posting.done() and not receiving.done():  # answered without sending: say why
        receiving.cancel()
        pytest.fail(f"nothing sent: {notices(posting.result())}")
    return await receiving, await posting


def test_the_url_name():
    assert reverse("admin:ocpp_consumer_command_quick") == QUICK


async def test_unlock_16_that_fails_is_amber_with_its_outcome(admin_client, charge_point_socket):
    socket = await charge_point_socket("CP-Q")
    frame, response = await quick(
        admin_client,
        {"status": "UnlockFailed"},
        socket,
        charge_point="CP-Q",
        quick="unlock",
        connector_id="2",
        next=BACK,
    )
    assert frame[2:] == ["UnlockConnector", {"connectorId": 2}]
    assert response.status_code == 302 and response["Location"] == BACK
    assert notices(response) == [
        (constants.WARNING, 'CP-Q, connector 2: UnlockConnector: {"status": "UnlockFailed"}')
    ]
    command = await Command.objects.aget()
    assert (command.status, command.outcome, command.source) == (
        CommandStatus.ANSWERED,
        "UnlockFailed",
        "admin",
    )
    history = await in_thread(admin_client.get)(reverse("admin:ocpp_consumer_command_changelist"))
    assert (
        '<span class="badge outcome-rejected" data-verdict="rejected" title="rejected / failed">'
        "UnlockFailed</span>" in history.content.decode()
    )


async def test_reset_16_soft_accepted_is_green(admin_client, charge_point_socket):
    socket = await charge_point_socket("CP-R")
    frame, response = await quick(
        admin_client, {"status": "Accepted"}, socket, charge_point="CP-R", quick="reset_soft"
    )
    assert frame[2:] == ["Reset", {"type": "Soft"}]
    assert notices(response) == [(constants.SUCCESS, 'CP-R: Reset: {"status": "Accepted"}')]
    charge_point = await ChargePoint.objects.aget(charge_point_id="CP-R")
    # Without a `next`, back to the charge point.
    assert response["Location"] == reverse(
        "admin:stations_chargepoint_change", args=[charge_point.pk]
    )


async def test_make_inoperative_16_of_a_connector(admin_client, charge_point_socket):
    socket = await charge_point_socket("CP-A")
    frame, response = await quick(
        admin_client,
        {"status": "Scheduled"},
        socket,
        charge_point="CP-A",
        quick="make_inoperative",
        connector_id="1",
        next=BACK,
    )
    assert frame[2:] == ["ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}]
    # Scheduled: accepted, done once the session ends.
    assert notices(response)[0][0] == constants.SUCCESS


async def test_stop_16_sends_our_transaction_id(admin_client, charge_point_socket):
    from drivers.models import IdTag

    await IdTag.objects.acreate(id_tag="CARD")
    socket = await charge_point_socket("CP-S")
    started = assert_call_result(
        await socket.call(
            "StartTransaction",
            {
                "connectorId": 1,
                "idTag": "CARD",
                "meterStart": 0,
                "timestamp": "2026-01-01T10:00:00Z",
            },  # fmt: skip
            unique_id="start",
        ),
        "start",
    )
    transaction_id = started["transactionId"]
    frame, response = await quick(
        admin_client,
        {"status": "Rejected"},
        socket,
        quick="stop",
        transaction=str(transaction_id),
        next=BACK,
    )
    assert frame[2:] == ["RemoteStopTransaction", {"transactionId": transaction_id}]
    assert notices(response) == [
        (
            constants.WARNING,
            f'CP-S, session {transaction_id}: RemoteStopTransaction: {{"status": "Rejected"}}',
        )
    ]


async def test_201_unlock_names_the_evse_and_its_plug_in_use(admin_client, charge_point_socket):
    socket = await station_201(charge_point_socket, "CP-201")
    charge_point = await ChargePoint.objects.aget(charge_point_id="CP-201")
    await Connector.objects.acreate(
        charge_point=charge_point,
        connector_id=1,
        status="Preparing",
        evse_connector_statuses={"1": "Available", "2": "Occupied"},
    )
    frame, response = await quick(
        admin_client,
        {"status": "Unlocked"},
        socket,
        charge_point="CP-201",
        quick="unlock",
        connector_id="1",
        next=BACK,
    )
    assert frame[2:] == ["UnlockConnector", {"evseId": 1, "connectorId": 2}]
    assert notices(response) == [
        (constants.SUCCESS, 'CP-201, connector 1: UnlockConnector: {"status": "Unlocked"}')
    ]


async def test_201_hard_reset_and_availability(admin_client, charge_point_socket):
    socket = await station_201(charge_point_socket, "CP-201")
    frame, _response = await quick(
        admin_client, {"status": "Accepted"}, socket, charge_point="CP-201", quick="reset_hard"
    )
    assert frame[2:] == ["Reset", {"type": "Immediate"}]
    frame, response = await quick(
        admin_client,
        {"status": "Rejected"},
        socket,
        charge_point="CP-201",
        quick="make_available",
        connector_id="2",
    )
    assert frame[2:] == [
        "ChangeAvailability",
        {"operationalStatus": "Operative", "evse": {"id": 2}},
    ]
    assert notices(response)[-1][0] == constants.WARNING


async def test_201_stop_sends_the_chargers_transaction_id(admin_client, charge_point_socket):
    socket = await station_201(charge_point_socket, "CP-201")
    charge_point = await ChargePoint.objects.aget(charge_point_id="CP-201")
    session = await sync_to_async(make_session)(charge_point, "CARD", ocpp_transaction_id="tx-77")
    frame, response = await quick(
        admin_client,
        {"status": "Accepted"},
        socket,
        charge_point="CP-201",
        quick="stop",
        transaction=str(session.pk),
        next=BACK,
    )
    assert frame[2:] == ["RequestStopTransaction", {"transactionId": "tx-77"}]
    assert notices(response)[0][0] == constants.SUCCESS


def test_offline_is_an_error_and_recorded_offline(admin_client):
    from stations.services import chargepoint_create

    chargepoint_create(charge_point_id="CP-OFF")
    response = admin_client.post(
        QUICK, {"charge_point": "CP-OFF", "quick": "reset_hard", "next": BACK}
    )
    assert response.status_code == 302 and response["Location"] == BACK
    [(level, text)] = notices(response)
    assert level == constants.ERROR and "not connected" in text
    command = Command.objects.get()
    assert (command.action, command.payload, command.status) == (
        "Reset",
        {"type": "Hard"},
        CommandStatus.OFFLINE,
    )
    page = admin_client.get(
        reverse("admin:stations_chargepoint_change", args=[command.charge_point_id])
    )
    assert 'data-verdict="offline"' in page.content.decode()


def test_bad_input_names_the_field_and_sends_nothing(admin_client):
    from stations.services import chargepoint_create

    charge_point = chargepoint_create(charge_point_id="CP-B")
    other = chargepoint_create(charge_point_id="CP-C")
    ended = make_session(other, "T", energy_wh=100)
    cases = [
        ({"charge_point": "CP-B", "quick": "explode"}, "quick: "),
        ({"charge_point": "CP-B", "quick": "unlock"}, "connector_id: "),
        ({"charge_point": "NOPE", "quick": "reset_soft"}, "charge_point: No such charge point."),
        ({"quick": "reset_soft"}, "charge_point: Name the charge point."),
        ({"charge_point": "CP-B", "quick": "stop"}, "transaction: Choose the session to stop."),
        ({"charge_point": "CP-B", "quick": "stop", "transaction": str(ended.pk)},
         "transaction: This session is not running."),
    ]  # fmt: skip
    running = make_session(other, "T-2")
    cases.append(
        (
            {"charge_point": "CP-B", "quick": "stop", "transaction": str(running.pk)},
            "transaction: This session is on another charge point.",
        )
    )
    for fields, expected in cases:
        response = admin_client.post(QUICK, {**fields, "next": BACK})
        assert response.status_code == 302 and response["Location"] == BACK, fields
        (level, text) = notices(response)[-1]  # earlier ones wait, unread, in the session
        assert level == constants.ERROR and text.startswith(expected), (fields, text)
    assert not Command.objects.exists()
    assert charge_point.pk


def test_next_must_be_a_page_of_this_site(admin_client):
    from stations.services import chargepoint_create

    charge_point = chargepoint_create(charge_point_id="CP-N")
    response = admin_client.post(
        QUICK, {"charge_point": "CP-N", "quick": "reset_soft", "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse(
        "admin:stations_chargepoint_change", args=[charge_point.pk]
    )


def test_post_only_staff_with_change_permission_and_csrf(client):
    from stations.services import chargepoint_create

    chargepoint_create(charge_point_id="CP-P")
    body = {"charge_point": "CP-P", "quick": "reset_soft"}
    # Not signed in: the admin's login page.
    assert client.post(QUICK, body).status_code == 302
    viewer = make_operator("stations.view_chargepoint")
    client.force_login(viewer)
    assert client.post(QUICK, body).status_code == 403
    operator = make_operator("stations.change_chargepoint")
    client.force_login(operator)
    assert client.get(QUICK).status_code == 405
    checked = Client(enforce_csrf_checks=True)
    checked.force_login(operator)
    assert checked.post(QUICK, body).status_code == 403  # no CSRF token
    assert not Command.objects.exists()


def test_buttons_follow_the_connector_status_and_permission(admin_client):
    from django.template import Context, Template

    template = Template(
        "{% load console_actions %}{% connector_actions cp connector status '/back/' %}"
    )

    def render(status, connector=1, user=None):
        return template.render(
            Context({"cp": "CP-T", "connector": connector, "status": status, "user": user})
        )

    faulted = render("Faulted")
    for quick in ("unlock", "reset_soft", "reset_hard", "make_inoperative"):
        assert f'name="quick" value="{quick}"' in faulted
    assert 'value="make_available"' not in faulted
    assert 'data-confirm="' in faulted  # a hard reset asks first
    unavailable = render("Unavailable")
    assert 'value="make_available"' in unavailable and 'value="make_inoperative"' not in unavailable
    available = render("Available")
    assert 'value="unlock"' not in available and 'value="reset_soft"' not in available
    assert 'value="unlock"' not in render("Finishing", connector=0)
    assert '<input type="hidden" name="next" value="/back/">' in available
    viewer = make_operator("stations.view_chargepoint")
    assert render("Faulted", user=viewer).strip() == ""


def test_charge_point_transaction_and_session_pages_carry_the_buttons(admin_client):
    from stations.services import chargepoint_create

    charge_point = chargepoint_create(charge_point_id="CP-PG")
    Connector.objects.create(charge_point=charge_point, connector_id=1, status="Faulted")
    running = make_session(charge_point, "CARD-9", connector_id=1)
    ended = make_session(charge_point, "CARD-8", connector_id=1, energy_wh=10)
    page = admin_client.get(
        reverse("admin:stations_chargepoint_change", args=[charge_point.pk])
    ).content.decode()
    panel = page[page.index('id="quick-actions"') : page.index('id="chargepoint_form"')]
    assert (
        f'<form method="post" action="{QUICK}" class="console-actions" '
        'data-charge-point="CP-PG" data-connector="1">'
    ) in panel
    assert 'name="quick" value="unlock"' in panel and 'name="quick" value="reset_hard"' in panel
    assert f'<input type="hidden" name="transaction" value="{running.pk}">' in panel
    assert f'name="transaction" value="{ended.pk}"' not in panel
    assert "CARD-9" in panel
    tx_page = admin_client.get(
        reverse("admin:stations_transaction_change", args=[running.pk])
    ).content.decode()
    assert f'<input type="hidden" name="transaction" value="{running.pk}">' in tx_page
    assert '<input type="hidden" name="charge_point" value="CP-PG">' in tx_page
    ended_page = admin_client.get(
        reverse("admin:stations_transaction_change", args=[ended.pk])
    ).content.decode()
    assert 'value="stop"' not in ended_page
    listing = admin_client.get(
        reverse("admin:stations_transaction_changelist") + "?status__exact=running"
    ).content.decode()
    assert f'form="console-stop-session" name="transaction" value="{running.pk}"' in listing
    assert '<form id="console-stop-session" method="post"' in listing


async def test_connector_bulk_actions_reach_each_charge_point(admin_client, charge_point_socket):
    one = await charge_point_socket("CP-1")
    two = await station_201(charge_point_socket, "CP-2")
    for name in ("CP-1", "CP-2"):
        charge_point = await ChargePoint.objects.aget(charge_point_id=name)
        await Connector.objects.aget_or_create(charge_point=charge_point, connector_id=1)
    selected = [c.pk async for c in Connector.objects.filter(connector_id=1)]
    posting = asyncio.create_task(
        in_thread(admin_client.post)(
            reverse("admin:stations_connector_changelist"),
            {"action": "quick_make_inoperative", "_selected_action": selected},
        )
    )
    frame_16 = await charger_answers(one, {"status": "Accepted"})
    frame_201 = await charger_answers(two, {"status": "Rejected"})
    response = await posting
    assert frame_16[2:] == ["ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}]
    assert frame_201[2:] == [
        "ChangeAvailability",
        {"operationalStatus": "Inoperative", "evse": {"id": 1}},
    ]
    assert sorted(notices(response)) == [
        (constants.SUCCESS,
         'CP-1, connector 1: ChangeAvailability: {"status": "Accepted"}'),
        (constants.WARNING,
         'CP-2, connector 1: ChangeAvailability: {"status": "Rejected"}'),
    ]  # fmt: skip


async def test_typed_remote_start_from_the_command_page(admin_client, charge_point_socket):
    socket = await charge_point_socket("CP-TY")
    charge_point = await ChargePoint.objects.aget(charge_point_id="CP-TY")
    await Connector.objects.aget_or_create(charge_point=charge_point, connector_id=1)
    url = reverse("admin:stations_chargepoint_command", args=[charge_point.pk])
    form = {"mode": "typed", "action": "RemoteStartTransaction", "connectorId": "1"}
    refused = await in_thread(admin_client.post)(url, {**form, "idTag": "   "})
    assert refused.status_code == 200
    assert refused.context["typed_form"].errors["idTag"] == ["This field is required."]
    assert not await Command.objects.aexists()
    posting = asyncio.create_task(in_thread(admin_client.post)(url, {**form, "idTag": "CARD-1"}))
    frame = await charger_answers(socket, {"status": "Rejected"})
    response = await posting
    assert frame[2:] == ["RemoteStartTransaction", {"connectorId": 1, "idTag": "CARD-1"}]
    assert notices(response) == [
        (constants.WARNING, 'CP-TY: RemoteStartTransaction: {"status": "Rejected"}')
    ]
    assert not await Transaction.objects.aexists()


def test_command_page_renders_typed_fields_and_grouped_actions(admin_client):
    from stations.services import chargepoint_create

    charge_point = chargepoint_create(charge_point_id="CP-F")
    Connector.objects.create(charge_point=charge_point, connector_id=1, status="Available")
    url = reverse("admin:stations_chargepoint_command", args=[charge_point.pk])
    page = admin_client.get(url + "?action=RemoteStartTransaction").content.decode()
    assert '<optgroup label="Sessions">' in page and '<optgroup label="Security">' in page
    assert 'name="idTag"' in page and 'list="console-idtag-options"' in page
    assert '<option value="1" selected>#1: Available</option>' in page
    assert 'data-idtag-search="/admin/ocpp_consumer/command/id-tags/"' in page
    assert '<details class="module console-expert" id="expert-mode">' in page
    expert = admin_client.get(url + "?action=Reset&mode=expert").content.decode()
    assert '<details class="module console-expert" id="expert-mode" open>' in expert


def test_idtag_search_is_limited_and_for_staff(admin_client, client):
    from drivers.models import IdTag

    for number in range(30):
        IdTag.objects.create(id_tag=f"CARD-{number:02d}", note="fleet")
    IdTag.objects.create(id_tag="XCARD-7")
    url = reverse("admin:ocpp_consumer_command_idtags")
    found = admin_client.get(url, {"q": "card-0"}).json()["results"]
    assert [row["value"] for row in found] == [f"CARD-0{n}" for n in range(10)]
    assert found[0]["label"] == "Accepted · fleet"
    # Those starting with the text first, then those containing it.
    ranked = [row["value"] for row in admin_client.get(url, {"q": "card-"}).json()["results"]]
    assert len(ranked) == 20 and "XCARD-7" not in ranked
    assert admin_client.get(url, {"q": "xcard"}).json()["results"][0]["value"] == "XCARD-7"
    assert client.get(url).status_code == 302  # not signed in: the login page
    client.force_login(make_operator("stations.change_chargepoint"))
    assert client.get(url).status_code == 403  # may not see id tags


def test_outcome_filter_combines_status_and_outcome(admin_client):
    from stations.services import chargepoint_create

    charge_point = chargepoint_create(charge_point_id="CP-H")

    def record(status, outcome="", action="Reset"):
        return Command.objects.create(
            charge_point=charge_point, action=action, status=status, outcome=outcome
        ).pk

    accepted = {
        record(CommandStatus.ANSWERED, "Accepted"),
        record(CommandStatus.ANSWERED, "Unlocked", "UnlockConnector"),
        record(CommandStatus.ANSWERED, "", "GetConfiguration"),  # data, no status
    }
    rejected = {
        record(CommandStatus.ANSWERED, "Rejected"),
        record(CommandStatus.ANSWERED, "UnlockFailed", "UnlockConnector"),
        record(CommandStatus.FAILED),
    }
    timeout = {record(CommandStatus.TIMED_OUT)}
    offline = {record(CommandStatus.OFFLINE)}
    pending = {record(CommandStatus.PENDING), record(CommandStatus.SENT)}
    url = reverse("admin:ocpp_consumer_command_changelist")
    for verdict, expected in [
        ("accepted", accepted),
        ("rejected", rejected),
        ("timeout", timeout),
        ("offline", offline),
        ("pending", pending),
    ]:
        response = admin_client.get(url, {"outcome": verdict})
        shown = {c.pk for c in response.context["cl"].result_list}
        assert shown == expected, verdict
    page = admin_client.get(url).content.decode()
    for verdict in ("accepted", "rejected", "timeout", "offline", "pending"):
        assert f'data-verdict="{verdict}"' in page
        assert f"?outcome={verdict}" in page  # the filter's links
    assert ">UnlockFailed</span>" in page and ">error</span>" in page


async def test_typed_request_start_201_gets_the_commands_own_id(admin_client, charge_point_socket):
    socket = await station_201(charge_point_socket, "CP-T201")
    charge_point = await ChargePoint.objects.aget(charge_point_id="CP-T201")
    await Connector.objects.aget_or_create(charge_point=charge_point, connector_id=1)
    url = reverse("admin:stations_chargepoint_command", args=[charge_point.pk])
    form = {
        "mode": "typed",
        "action": "RequestStartTransaction",
        "evseId": "1",
        "idToken__idToken": "CARD-2",
        "idToken__type": "Central",
    }
    posting = asyncio.create_task(in_thread(admin_client.post)(url, form))
    frame = await charger_answers(socket, {"status": "Accepted"})
    response = await posting
    command = await Command.objects.aget()
    assert frame[2:] == [
        "RequestStartTransaction",
        {
            "evseId": 1,
            "idToken": {"idToken": "CARD-2", "type": "Central"},
            "remoteStartId": command.pk,
        },
    ]
    assert notices(response) == [
        (constants.SUCCESS, 'CP-T201: RequestStartTransaction: {"status": "Accepted"}')
    ]


def test_charge_point_actions_are_grouped_security_apart(admin_client):
    from stations.services import chargepoint_create

    chargepoint_create(charge_point_id="CP-G")  # the action menu shows with a row
    page = admin_client.get(reverse("admin:stations_chargepoint_changelist")).content.decode()
    availability = page[page.index('<optgroup label="Availability &amp; reset">') :]
    availability = availability[: availability.index("</optgroup>")]
    assert 'value="send_reset_soft"' in availability
    assert 'value="rotate_authorization_key"' not in availability
    security = page[page.index('<optgroup label="Security">') :]
    assert 'value="rotate_authorization_key"' in security[: security.index("</optgroup>")]
    assert '<optgroup label="Registration">' in page

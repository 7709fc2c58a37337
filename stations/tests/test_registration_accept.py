"""Unknown charge points wait as Pending until an operator accepts them, in one click.

The domain's guards (no Accepted id tag, no running session, no invoice at
a charge point that is not accepted) are tested through the services; the
decision through the API and the console, against a real socket where the
charge point must learn it at once.
"""

import asyncio
import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.db import connections
from django.urls import reverse

from api_support.testing import T0, client_for, make_charge_point, make_driver, make_operator
from billing.models import Tariff
from billing.services import invoice_create, transaction_start_priced
from drivers.choices import AuthorizationStatus
from ocpp_consumer.models import Command
from ocpp_consumer.tests import conftest as socket_fixtures
from ocpp_consumer.tests.conftest import assert_call_error, assert_call_result
from stations.choices import RegistrationStatus, SessionStatus
from stations.models import ChargePoint
from stations.selectors import connector_startable_exists
from stations.services import transaction_stop
from stations.services.registration import (
    chargepoint_registration_set,
    chargepoints_awaiting_acceptance,
    idtag_authorize_at,
)

CP_URL = "/api/v1/charge-points/{}/"
# The charge point sockets of the consumer's tests.
channel_layer = socket_fixtures.channel_layer
handshake = socket_fixtures.handshake
charge_point_socket = socket_fixtures.charge_point_socket


# --- the domain ---------------------------------------------------------------


@pytest.fixture
def pending_cp(db):
    charge_point = make_charge_point("STRANGER")
    ChargePoint.objects.filter(pk=charge_point.pk).update(
        registration_status=RegistrationStatus.PENDING
    )
    charge_point.refresh_from_db()
    return charge_point


@pytest.fixture
def alice(db):
    return make_driver("alice", "ALICE-TAG")


def test_registration_set_records_the_decision(pending_cp):
    decided = chargepoint_registration_set(
        charge_point_pk=pending_cp.pk, status=RegistrationStatus.ACCEPTED
    )
    assert decided.registration_status == "Accepted"
    pending_cp.refresh_from_db()
    assert pending_cp.registration_status == "Accepted"
    with pytest.raises(ValidationError) as refused:
        chargepoint_registration_set(charge_point_pk=pending_cp.pk, status="Maybe")
    assert "registration_status" in refused.value.message_dict


def test_a_pending_charge_point_never_gets_an_id_tag_accepted(pending_cp, alice):
    answer = idtag_authorize_at(charge_point_pk=pending_cp.pk, id_tag="alice-tag")
    assert answer.status == AuthorizationStatus.INVALID
    assert answer.tag is None and answer.expiry_date is None and answer.parent_id_tag is None
    chargepoint_registration_set(charge_point_pk=pending_cp.pk, status="Accepted")
    assert idtag_authorize_at(charge_point_pk=pending_cp.pk, id_tag="alice-tag").status == (
        AuthorizationStatus.ACCEPTED
    )


def test_a_pending_charge_point_starts_no_session_and_bills_none(pending_cp, alice, settings):
    settings.BILLING_INVOICE_ZERO_ENERGY = True
    Tariff.objects.create(name="Default", is_default=True)
    session, answer = transaction_start_priced(
        charge_point_pk=pending_cp.pk, connector_id=1, id_tag="ALICE-TAG", meter_start=0,
        timestamp=T0,
    )  # fmt: skip
    assert answer.status == AuthorizationStatus.INVALID
    assert session.status == SessionStatus.REFUSED
    assert session.tag is None and session.tariff_snapshot is None
    transaction_stop(
        charge_point_pk=pending_cp.pk, transaction_id=session.pk, meter_stop=5000,
        timestamp=T0 + timedelta(hours=1),
    )  # fmt: skip
    assert invoice_create(transaction_id=session.pk) is None


def test_a_rejected_charge_point_is_refused_too(pending_cp, alice):
    chargepoint_registration_set(charge_point_pk=pending_cp.pk, status="Rejected")
    assert idtag_authorize_at(charge_point_pk=pending_cp.pk, id_tag="ALICE-TAG").status == (
        AuthorizationStatus.INVALID
    )


def test_an_accepted_charge_point_starts_sessions(pending_cp, alice):
    chargepoint_registration_set(charge_point_pk=pending_cp.pk, status="Accepted")
    session, answer = transaction_start_priced(
        charge_point_pk=pending_cp.pk, connector_id=1, id_tag="ALICE-TAG", meter_start=0,
        timestamp=T0,
    )  # fmt: skip
    assert answer.status == AuthorizationStatus.ACCEPTED
    assert session.status == SessionStatus.RUNNING and session.tag.id_tag == "ALICE-TAG"


def test_no_remote_start_is_sent_to_a_charge_point_out_of_service(pending_cp):
    """A driver's tag never goes to a stranger's socket (commands.policy asks this)."""
    assert not connector_startable_exists(charge_point_pk=pending_cp.pk, connector_id=1)
    chargepoint_registration_set(charge_point_pk=pending_cp.pk, status="Accepted")
    assert connector_startable_exists(charge_point_pk=pending_cp.pk, connector_id=1)


def test_awaiting_acceptance_lists_pending_only(pending_cp):
    make_charge_point("KNOWN")
    assert list(chargepoints_awaiting_acceptance()) == [pending_cp]


# --- the API --------------------------------------------------------------------


def test_drivers_and_operators_without_permission_cannot_decide(pending_cp, alice):
    for user in (alice, make_operator("stations.view_chargepoint")):
        response = client_for(user).post(CP_URL.format("STRANGER") + "accept/")
        assert response.status_code == 403, response.content
    pending_cp.refresh_from_db()
    assert pending_cp.registration_status == "Pending"


def test_accept_and_reject_an_offline_charge_point(pending_cp):
    client = client_for(make_operator("stations.change_chargepoint"))
    response = client.post(CP_URL.format("STRANGER") + "accept/")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "charge_point_id": "STRANGER",
        "registration_status": "Accepted",
        "is_online": False,
        "boot_trigger": None,  # it learns the decision when it next boots
    }
    response = client.post(CP_URL.format("STRANGER") + "reject/")
    assert response.json()["registration_status"] == "Rejected"
    assert client.post(CP_URL.format("NOBODY") + "accept/").status_code == 404
    assert not Command.objects.exists()


def test_patch_still_sets_the_status(pending_cp):
    client = client_for(make_operator("stations.change_chargepoint"))
    response = client.patch(
        CP_URL.format("STRANGER"), {"registration_status": "Accepted"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["registration_status"] == "Accepted"
    pending_cp.refresh_from_db()
    assert pending_cp.registration_status == "Accepted"
    response = client.patch(
        CP_URL.format("STRANGER"), {"registration_status": "Maybe"}, format="json"
    )
    assert response.status_code == 400


def test_drivers_do_not_see_charge_points_out_of_service(pending_cp, alice):
    make_charge_point("KNOWN")
    client = client_for(alice)
    listed = [
        cp["charge_point_id"] for cp in client.get("/api/v1/charge-points/").json()["results"]
    ]
    assert listed == ["KNOWN"]
    assert client.get(CP_URL.format("STRANGER")).status_code == 404
    connectors = client.get("/api/v1/connectors/").json()["results"]
    assert {c["charge_point"] for c in connectors} == {"KNOWN"}
    operator = client_for(make_operator("stations.view_chargepoint"))
    assert operator.get("/api/v1/charge-points/").json()["count"] == 2


# --- the console ---------------------------------------------------------------


@pytest.fixture
def console(client, db):
    client.force_login(make_operator(superuser=True))
    return client


def test_console_shows_who_waits_and_accepts_in_one_click(console, pending_cp):
    changelist = console.get(reverse("admin:stations_chargepoint_changelist"))
    assert b"1 charge point(s) await acceptance" in changelist.content
    assert b"Pending: awaiting acceptance" in changelist.content
    assert b"1 charge point(s) await acceptance" in console.get(reverse("admin:index")).content

    change = console.get(reverse("admin:stations_chargepoint_change", args=[pending_cp.pk]))
    assert b'id="registration-accept"' in change.content
    url = reverse("admin:stations_chargepoint_registration", args=[pending_cp.pk, "accept"])
    assert console.get(url).status_code == 405
    response = console.post(url, follow=True)
    assert b"STRANGER: Accepted; not connected" in response.content
    pending_cp.refresh_from_db()
    assert pending_cp.registration_status == "Accepted"
    assert b"await acceptance" not in console.get(reverse("admin:index")).content


def test_console_bulk_reject(console, pending_cp):
    other = make_charge_point("OTHER")
    response = console.post(
        reverse("admin:stations_chargepoint_changelist"),
        {"action": "reject_selected", "_selected_action": [pending_cp.pk, other.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert set(ChargePoint.objects.values_list("registration_status", flat=True)) == {"Rejected"}


def test_console_form_change_goes_through_the_service(console, pending_cp):
    url = reverse("admin:stations_chargepoint_change", args=[pending_cp.pk])
    response = console.post(
        url,
        {
            "charge_point_id": "STRANGER",
            "registration_status": "Accepted",
            "security_profile": 0,
            "connectors-TOTAL_FORMS": 0,
            "connectors-INITIAL_FORMS": 0,
        },
        follow=True,
    )
    assert response.status_code == 200
    pending_cp.refresh_from_db()
    assert pending_cp.registration_status == "Accepted"


# --- a connected charge point learns the decision at once -----------------------


def _post(client, path):
    try:
        return client.post(path, format="json")
    finally:
        connections.close_all()


def api_post(client, path) -> asyncio.Task:
    """POST from a worker thread, as Daphne runs a sync view."""
    return asyncio.ensure_future(sync_to_async(_post, thread_sensitive=False)(client, path))


@sync_to_async
def operator_client():
    return client_for(make_operator("stations.change_chargepoint"))


@sync_to_async
def make_alice():
    make_driver("alice", "ALICE-TAG")


@sync_to_async
def registration_of(charge_point_id):
    return ChargePoint.objects.get(charge_point_id=charge_point_id).registration_status


async def answer_boot_trigger(socket) -> None:
    frame = await socket.next_frame()
    assert frame[0] == 2 and frame[2] == "TriggerMessage", frame
    assert frame[3] == {"requestedMessage": "BootNotification"}
    await socket.send_text(json.dumps([3, frame[1], {"status": "Accepted"}]))


@pytest.mark.secure_defaults
@pytest.mark.django_db(transaction=True)
async def test_an_unknown_charge_point_waits_then_is_accepted_at_once(charge_point_socket):
    await make_alice()
    socket = await charge_point_socket("STRANGER", boot=False)
    assert await registration_of("STRANGER") == "Pending"
    assert (await socket.boot())["status"] == "Pending"
    refused = await socket.call("Authorize", {"idTag": "ALICE-TAG"}, unique_id="a1")
    assert_call_error(refused, "a1", "SecurityError")

    pending = api_post(await operator_client(), CP_URL.format("STRANGER") + "accept/")
    await answer_boot_trigger(socket)
    response = await pending
    assert response.status_code == 200, response.content
    assert response.json()["boot_trigger"]["status"] == "answered"
    assert response.json()["boot_trigger"]["answer"] == "Accepted"

    assert (await socket.boot())["status"] == "Accepted"
    authorized = await socket.call("Authorize", {"idTag": "ALICE-TAG"}, unique_id="a2")
    assert assert_call_result(authorized, "a2")["idTagInfo"]["status"] == "Accepted"


@pytest.mark.django_db(transaction=True)
async def test_a_charge_point_rejected_while_connected_is_refused_at_once(charge_point_socket):
    await make_alice()
    socket = await charge_point_socket("CP1")  # accepted (the lab default of the tests)
    await socket.assert_usable()

    pending = api_post(await operator_client(), CP_URL.format("CP1") + "reject/")
    await answer_boot_trigger(socket)
    assert (await pending).status_code == 200
    # Before it boots again: its next messages are refused, its tags never accepted.
    refused = await socket.call("Heartbeat", {}, unique_id="h1")
    assert_call_error(refused, "h1", "SecurityError")
    refused = await socket.call("Authorize", {"idTag": "ALICE-TAG"}, unique_id="a1")
    assert_call_error(refused, "a1", "SecurityError")
    assert (await socket.boot())["status"] == "Rejected"


def _patch(client, path, body):
    try:
        return client.patch(path, body, format="json")
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
async def test_patching_back_to_pending_refuses_the_next_messages(charge_point_socket):
    socket = await charge_point_socket("CP1")
    client = await operator_client()
    call = sync_to_async(_patch, thread_sensitive=False)
    pending = asyncio.ensure_future(
        call(client, CP_URL.format("CP1"), {"registration_status": "Pending"})
    )
    await answer_boot_trigger(socket)
    assert (await pending).status_code == 200
    refused = await socket.call("Heartbeat", {}, unique_id="h1")
    assert_call_error(refused, "h1", "SecurityError")
    assert (await socket.boot())["status"] == "Pending"

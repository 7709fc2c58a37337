"""A remote start's handle: the command names the session it led to (1.6 and 2.0.1 rules)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from api_support.testing import (
    client_for,
    make_charge_point,
    make_driver,
    make_operator,
    make_session,
)
from ocpp_consumer.commands.handles import (
    remote_start_command_link,
    remote_start_command_transaction,
)
from ocpp_consumer.models import Command, CommandStatus
from stations.models import Transaction
from stations.services import transaction_start

pytestmark = pytest.mark.django_db

WINDOW = 600  # REMOTE_START_LINK_SECONDS' default


@pytest.fixture
def driver():
    return make_driver("rita", "TAG-1")


@pytest.fixture
def charge_point():
    return make_charge_point("CP1", is_online=True, connectors={1: "Available", 2: "Available"})


def remote_start(charge_point, user, *, outcome="Accepted", ago=5, **payload) -> Command:
    """A 1.6 RemoteStartTransaction sent `ago` seconds ago and answered at once."""
    command = Command.objects.create(
        charge_point=charge_point,
        action="RemoteStartTransaction",
        payload={"idTag": "TAG-1", **payload},
        status=CommandStatus.ANSWERED,
        outcome=outcome,
        response={"status": outcome},
        requested_by=user,
        source="api",
    )
    sent = timezone.now() - timedelta(seconds=ago)
    Command.objects.filter(pk=command.pk).update(created_at=sent, answered_at=sent)
    command.refresh_from_db()
    return command


def request_start(charge_point, user, *, remote_start_id, response=None, ago=5) -> Command:
    command = Command.objects.create(
        charge_point=charge_point,
        action="RequestStartTransaction",
        payload={
            "remoteStartId": remote_start_id,
            "idToken": {"idToken": "TAG-1", "type": "Central"},
        },
        status=CommandStatus.ANSWERED,
        outcome="Accepted",
        response=response or {"status": "Accepted"},
        requested_by=user,
        source="api",
    )
    sent = timezone.now() - timedelta(seconds=ago)
    Command.objects.filter(pk=command.pk).update(created_at=sent, answered_at=sent)
    command.refresh_from_db()
    return command


def begun(session: Transaction, seconds_from_now: float) -> Transaction:
    """Say the server recorded the session's start that long from now."""
    at = timezone.now() + timedelta(seconds=seconds_from_now)
    Transaction.objects.filter(pk=session.pk).update(created_at=at)
    session.refresh_from_db()
    return session


# --- OCPP 1.6: the id tag on that charge point (and connector) soon after ------------------


def test_a_16_start_links_the_session_with_its_tag_on_its_connector(charge_point, driver):
    command = remote_start(charge_point, driver, connectorId=1)
    session = make_session(charge_point, "tag-1", connector_id=1)  # tags ignore case
    assert remote_start_command_link(transaction_id=session.pk) == command.pk
    assert remote_start_command_link(transaction_id=session.pk) == command.pk  # idempotent
    assert Command.objects.get(pk=command.pk).transaction_id == session.pk


@pytest.mark.parametrize(
    "mismatch",
    [
        "another connector",
        "another tag",
        "rejected",
        "too late",
        "before the command",
        "another charge point",
    ],
)
def test_a_16_start_does_not_link_what_it_did_not_start(charge_point, driver, mismatch):
    outcome = "Rejected" if mismatch == "rejected" else "Accepted"
    command = remote_start(charge_point, driver, connectorId=1, outcome=outcome, ago=30)
    where = make_charge_point("CP2") if mismatch == "another charge point" else charge_point
    session = make_session(
        where,
        "OTHER" if mismatch == "another tag" else "TAG-1",
        connector_id=2 if mismatch == "another connector" else 1,
        link_tag=False,
    )
    if mismatch == "too late":
        begun(session, WINDOW)  # answered 30 s ago: 30 s past the window
    if mismatch == "before the command":
        begun(session, -60)
    assert remote_start_command_link(transaction_id=session.pk) is None
    assert remote_start_command_transaction(command=command) is None


def test_a_16_start_without_connector_links_any_connector(charge_point, driver):
    command = remote_start(charge_point, driver)
    session = make_session(charge_point, "TAG-1", connector_id=2)
    assert remote_start_command_link(transaction_id=session.pk) == command.pk


def test_a_session_and_a_command_are_linked_once(charge_point, driver):
    first = remote_start(charge_point, driver, ago=20)
    second = remote_start(charge_point, driver, ago=10)
    one = make_session(charge_point, "TAG-1", connector_id=1)
    two = make_session(charge_point, "TAG-1", connector_id=2)
    # The newest start takes the first session; the other start the next one.
    assert remote_start_command_link(transaction_id=one.pk) == second.pk
    assert remote_start_command_link(transaction_id=two.pk) == first.pk
    assert remote_start_command_transaction(command=Command.objects.get(pk=first.pk)) == two.pk


def test_an_answer_stored_after_the_start_event_is_linked_when_read(charge_point, driver):
    command = remote_start(charge_point, driver, connectorId=1)
    Command.objects.filter(pk=command.pk).update(
        status=CommandStatus.SENT, outcome="", answered_at=None
    )
    session = make_session(charge_point, "TAG-1")
    assert remote_start_command_link(transaction_id=session.pk) is None  # not answered yet
    Command.objects.filter(pk=command.pk).update(
        status=CommandStatus.ANSWERED, outcome="Accepted", answered_at=timezone.now()
    )
    assert (
        remote_start_command_transaction(command=Command.objects.get(pk=command.pk)) == session.pk
    )
    assert Command.objects.get(pk=command.pk).transaction_id == session.pk


def test_the_session_started_event_links_its_remote_start(
    charge_point, driver, django_capture_on_commit_callbacks
):
    command = remote_start(charge_point, driver, connectorId=1)
    with django_capture_on_commit_callbacks(execute=True):
        session, _ = transaction_start(
            charge_point_pk=charge_point.pk,
            connector_id=1,
            id_tag="TAG-1",
            meter_start=0,
            timestamp=timezone.now(),
        )
    assert Command.objects.get(pk=command.pk).transaction_id == session.pk


# --- OCPP 2.0.1: the remoteStartId, or the session the answer names -------------------------


def test_a_201_start_links_by_its_remote_start_id(charge_point, driver):
    command = request_start(charge_point, driver, remote_start_id=4711)
    other = make_session(charge_point, "TAG-1", connector_id=2, remote_start_id=99)
    session = make_session(charge_point, "TAG-1", connector_id=1, remote_start_id=4711)
    assert remote_start_command_link(transaction_id=other.pk) is None
    assert remote_start_command_link(transaction_id=session.pk) == command.pk


def test_a_reused_remote_start_id_long_after_is_not_that_command_s(charge_point, driver):
    command = request_start(charge_point, driver, remote_start_id=5)
    begun(make_session(charge_point, "TAG-1", remote_start_id=5), 2 * WINDOW)
    assert remote_start_command_transaction(command=command) is None


def test_a_201_session_the_cable_began_is_the_one_the_answer_names(charge_point, driver):
    session = begun(make_session(charge_point, "TAG-1", ocpp_transaction_id="tx-9"), -3600)
    command = request_start(
        charge_point,
        driver,
        remote_start_id=8,
        response={"status": "Accepted", "transactionId": "tx-9"},
    )
    assert remote_start_command_transaction(command=command) == session.pk


# --- GET /api/v1/commands/{id}/ -------------------------------------------------------------


def test_a_driver_follows_their_own_start_to_its_session(charge_point, driver):
    command = remote_start(charge_point, driver, connectorId=1)
    client = client_for(driver)
    body = client.get(f"/api/v1/commands/{command.pk}/").json()
    assert (body["status"], body["outcome"], body["transaction"]) == ("answered", "Accepted", None)
    session = make_session(charge_point, "TAG-1")
    body = client.get(f"/api/v1/commands/{command.pk}/").json()
    assert body["transaction"] == session.pk  # linked when read
    assert body["action"] == "RemoteStartTransaction" and body["charge_point"] == "CP1"
    assert body["payload"] == {"id_tag": "TAG-1", "connector_id": 1}
    assert body["response"] == {"status": "Accepted"}
    assert body["created_at"] and body["answered_at"]


def test_commands_are_shown_to_their_driver_and_to_operators(charge_point, driver):
    command = remote_start(charge_point, driver)
    url = f"/api/v1/commands/{command.pk}/"
    assert client_for(make_driver("sam", "SAM-1")).get(url).status_code == 404
    assert client_for().get(url).status_code in (401, 403)
    assert client_for(make_operator()).get(url).status_code == 403
    assert client_for(make_operator("ocpp_consumer.view_command")).get(url).status_code == 200
    assert client_for(driver).get("/api/v1/commands/999999/").status_code == 404


def test_the_api_documents_the_handle_and_an_optional_remote_start_id():
    schema = client_for().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    start = schema["paths"][
        "/api/v1/charge-points/{charge_point_id}/commands/request-start-transaction/"
    ]
    body = start["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "remote_start_id" not in body["required"] and "id_token" in body["required"]
    assert "command's own id" in body["properties"]["remote_start_id"]["description"]
    handle = schema["paths"]["/api/v1/commands/{command_id}/"]["get"]
    assert handle["summary"] and "transaction" in handle["description"]
    quote = schema["paths"][
        "/api/v1/charge-points/{charge_point_id}/connectors/{connector_id}/quote/"
    ]
    assert quote["get"]["summary"] == "Price before charging"

"""Transactions over the API: the session's status, its dispute, and resolving it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from api_support.testing import (
    T0,
    client_for,
    make_charge_point,
    make_driver,
    make_invoice,
    make_operator,
    make_session,
)
from stations.choices import DisputeResolution, SessionStatus
from stations.models import Transaction

pytestmark = pytest.mark.django_db

TRANSACTIONS = "/api/v1/transactions/"
VIEW = ("stations.view_transaction",)
RESOLVE = ("stations.view_transaction", "stations.change_transaction")
SNAPSHOT = {
    "name": "Market Square",
    "currency": "EUR",
    "price_per_kwh": "0.3900",
    "vat_rate": "21.00",
    "periods": [{"start": "22:00:00", "end": "06:00:00", "price_per_kwh": "0.2500"}],
}
SEGMENTS = [{"from_wh": 70_000, "to_wh": 76_000}, {"from_wh": 200, "to_wh": 1500}]


@pytest.fixture
def charge_point():
    return make_charge_point("CP1", connectors={1: "Available", 2: "Available"})


def disputed(charge_point, id_tag="TAG", **fields):
    """An ended session waiting for an operator's decision."""
    fields = {
        "energy_wh": 7300,
        "disputed_at": T0 + timedelta(hours=1),
        "dispute_reason": "The energy register went backwards.\nMore energy than 22 kW allow.",
        "meter_segments": SEGMENTS,
        "tariff_snapshot": SNAPSHOT,
        **fields,
    }
    return make_session(charge_point, id_tag, **fields)


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def resolve(client, session, **body):
    return client.post(f"{TRANSACTIONS}{session.pk}/resolve/", body, format="json")


# --- what a transaction shows ----------------------------------------------------------


def test_operator_sees_status_dispute_segments_tariff_and_invoice(charge_point):
    session = disputed(charge_point)
    invoiced = make_session(charge_point, "TAG", energy_wh=500, start=T0 - timedelta(days=1))
    invoice = make_invoice(invoiced)
    client = client_for(make_operator(*VIEW))

    body = client.get(f"{TRANSACTIONS}{session.pk}/").json()
    assert body["status"] == "ended"
    assert body["is_open"] is False
    assert body["is_disputed"] is True
    assert body["disputed_at"] == "2026-11-26T11:00:00Z"
    assert body["dispute_reason"].splitlines() == [
        "The energy register went backwards.",
        "More energy than 22 kW allow.",
    ]
    assert body["dispute_resolution"] == ""
    assert body["meter_segments"] == SEGMENTS
    assert body["tariff_snapshot"] == SNAPSHOT
    assert body["invoice"] is None
    assert client.get(f"{TRANSACTIONS}{invoiced.pk}/").json()["invoice"] == invoice.pk


def test_a_refused_start_is_never_open(charge_point):
    refused = make_session(charge_point, "TAG", status=SessionStatus.REFUSED)
    body = client_for(make_operator(*VIEW)).get(f"{TRANSACTIONS}{refused.pk}/").json()
    assert body["stop_timestamp"] is None
    assert (body["status"], body["is_open"], body["energy_wh"]) == ("refused", False, None)


def test_driver_sees_that_a_session_is_disputed_not_the_operators_notes(charge_point):
    alice = make_driver("alice", "ALICE-1")
    session = disputed(
        charge_point,
        "ALICE-1",
        dispute_resolution=DisputeResolution.CORRECTED,
        dispute_resolved_at=T0 + timedelta(days=1),
        dispute_note="Site log says 7.3 kWh; charger firmware bug.",
        energy_wh_reported=999_999,
    )
    client = client_for(alice)
    for body in (
        client.get(f"{TRANSACTIONS}{session.pk}/").json(),
        client.get("/api/v1/me/transactions/").json()["results"][0],
    ):
        assert body["status"] == "ended"
        assert body["is_disputed"] is False
        assert body["energy_wh"] == 7300
        assert body["meter_segments"] == SEGMENTS
        assert body["tariff_snapshot"] == SNAPSHOT
        assert body["invoice"] is None
        hidden = {
            "disputed_at",
            "dispute_reason",
            "dispute_resolution",
            "dispute_resolved_at",
            "dispute_note",
            "energy_wh_reported",
        }
        assert not hidden & set(body)
        assert "firmware" not in str(body) and "999999" not in str(body)


# --- filters ---------------------------------------------------------------------------


def test_filters_by_status_running_and_disputed(charge_point):
    running = make_session(charge_point, "TAG", start=T0)
    refused = make_session(
        charge_point, "TAG", connector_id=2, start=T0 + timedelta(minutes=1), status="refused"
    )
    waiting = disputed(charge_point, start=T0 - timedelta(hours=3))
    decided = disputed(
        charge_point,
        start=T0 - timedelta(hours=5),
        dispute_resolution=DisputeResolution.ACCEPTED,
        dispute_resolved_at=T0,
    )
    plain = make_session(charge_point, "TAG", energy_wh=10, start=T0 - timedelta(hours=7))
    client = client_for(make_operator(*VIEW))

    def listed(**params):
        return set(ids(client.get(TRANSACTIONS, params)))

    assert listed(is_open="true") == {running.pk}
    assert listed(is_open="false") == {refused.pk, waiting.pk, decided.pk, plain.pk}
    assert listed(status="refused") == {refused.pk}
    assert listed(status="ended") == {waiting.pk, decided.pk, plain.pk}
    assert listed(disputed="true") == {waiting.pk}
    assert listed(disputed="false") == {running.pk, refused.pk, decided.pk, plain.pk}
    assert listed(disputed="true", status="running") == set()
    bad = client.get(TRANSACTIONS, {"status": "open"})
    assert bad.status_code == 400 and "status" in bad.json()


def test_driver_filters_own_disputed_sessions(charge_point):
    alice = make_driver("alice", "ALICE-1")
    make_driver("bob", "BOB-1")
    own = disputed(charge_point, "ALICE-1")
    disputed(charge_point, "BOB-1", start=T0 - timedelta(hours=2))
    make_session(charge_point, "ALICE-1", energy_wh=5, start=T0 - timedelta(hours=4))
    client = client_for(alice)
    assert ids(client.get(TRANSACTIONS, {"disputed": "true"})) == [own.pk]
    assert ids(client.get("/api/v1/me/transactions/", {"disputed": "true"})) == [own.pk]


# --- resolving a dispute ---------------------------------------------------------------


def test_operator_accepts_a_dispute(charge_point):
    session = disputed(charge_point)
    operator = make_operator(*RESOLVE)
    before = timezone.now()
    response = resolve(client_for(operator), session, resolution="accepted", note="Checked.")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["is_disputed"], body["dispute_resolution"]) == (False, "accepted")
    assert body["dispute_note"] == "Checked."
    assert body["energy_wh"] == 7300 and body["energy_wh_reported"] is None
    stored = Transaction.objects.get(pk=session.pk)
    assert stored.dispute_resolved_by == operator
    assert stored.dispute_resolved_at >= before


def test_operator_corrects_the_energy_and_the_reported_figure_is_kept(charge_point):
    session = disputed(charge_point)
    response = resolve(
        client_for(make_operator(*RESOLVE)),
        session,
        resolution="corrected",
        energy_wh=6100,
        note="From the site meter.",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["energy_wh"], body["energy_wh_reported"]) == (6100, 7300)
    assert body["dispute_resolution"] == "corrected"


def test_operator_voids_a_dispute(charge_point):
    session = disputed(charge_point)
    response = resolve(client_for(make_operator(*RESOLVE)), session, resolution="voided")
    assert response.status_code == 200, response.json()
    assert Transaction.objects.get(pk=session.pk).dispute_resolution == "voided"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"resolution": "corrected"}, "energy_wh"),
        ({"resolution": "corrected", "energy_wh": -1}, "energy_wh"),
        ({"resolution": "accepted", "energy_wh": 5000}, "energy_wh"),
        ({"resolution": "forgiven"}, "resolution"),
        ({}, "resolution"),
        ({"resolution": "voided", "note": "x" * 2001}, "note"),
    ],
)
def test_a_wrong_decision_is_400_naming_the_field(charge_point, body, field):
    session = disputed(charge_point)
    response = resolve(client_for(make_operator(*RESOLVE)), session, **body)
    assert response.status_code == 400
    assert field in response.json()
    assert Transaction.objects.get(pk=session.pk).is_disputed


def test_a_session_not_waiting_for_a_decision_is_409(charge_point):
    client = client_for(make_operator(*RESOLVE))
    never = make_session(charge_point, "TAG", energy_wh=100, start=T0 - timedelta(hours=3))
    decided = disputed(
        charge_point,
        start=T0 - timedelta(hours=5),
        dispute_resolution=DisputeResolution.VOIDED,
        dispute_resolved_at=T0,
    )
    still_running = make_session(
        charge_point, "TAG", disputed_at=T0, dispute_reason="Clock far ahead."
    )
    for session in (never, decided, still_running):
        response = resolve(client, session, resolution="accepted")
        assert response.status_code == 409, session
        assert response.json()["detail"]
    assert Transaction.objects.get(pk=decided.pk).dispute_resolution == "voided"


def test_only_operators_with_change_permission_resolve(charge_point):
    alice = make_driver("alice", "TAG")
    session = disputed(charge_point)
    assert resolve(client_for(), session, resolution="accepted").status_code == 401
    driver = resolve(client_for(alice), session, resolution="accepted")
    assert driver.status_code == 403 and "Drivers" in driver.json()["detail"]
    viewer = resolve(client_for(make_operator(*VIEW)), session, resolution="accepted")
    assert viewer.status_code == 403
    assert Transaction.objects.get(pk=session.pk).is_disputed
    missing = client_for(make_operator(*RESOLVE)).post(
        f"{TRANSACTIONS}999999/resolve/", {"resolution": "accepted"}, format="json"
    )
    assert missing.status_code == 404


def test_the_schema_documents_the_resolve_action():
    schema = client_for().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    operation = schema.json()["paths"]["/api/v1/transactions/{id}/resolve/"]["post"]
    assert {"200", "400", "401", "403", "404", "409"} <= set(operation["responses"])
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    request = schema.json()["components"]["schemas"][body.rsplit("/", 1)[-1]]
    assert set(request["properties"]) == {"resolution", "note", "energy_wh"}
    assert request["required"] == ["resolution"]
    transaction = schema.json()["components"]["schemas"]["Transaction"]["properties"]
    assert {"status", "is_disputed", "invoice", "tariff_snapshot", "meter_segments"} <= set(
        transaction
    )

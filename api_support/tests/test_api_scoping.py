"""A driver never sees another driver's data, on any endpoint the schema lists."""

import re

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from api_support.testing import (
    add_reading,
    client_for,
    make_charge_point,
    make_driver,
    make_invoice,
    make_session,
)
from ocpp_consumer.models import Command, JournalEntry
from stations.models import ChargingProfile, Connector, Reservation

pytestmark = pytest.mark.django_db

BOB_TAG = "BOBTAG77"
BOB_SECRETS = (BOB_TAG, "bob-the-driver", "bob@example.com")


@pytest.fixture
def world():
    """Alice and Bob, each with a tag, a stopped session with readings, an invoice."""
    charge_point = make_charge_point("CP1", is_online=True, connectors={1: "Available"})
    alice = make_driver("alice", "ALICETAG1")
    bob = make_driver("bob-the-driver", BOB_TAG)
    bob.email = "bob@example.com"
    bob.save()
    sessions, invoices = {}, {}
    for name, tag in (("alice", "ALICETAG1"), ("bob", BOB_TAG)):
        connector = 1 if name == "alice" else 2
        session = make_session(charge_point, tag, connector_id=connector, energy_wh=1500)
        add_reading(session, "11500", minutes=30)
        sessions[name] = session
        invoices[name] = make_invoice(session)
    Command.objects.create(
        charge_point=charge_point,
        action="RemoteStartTransaction",
        payload={"idTag": BOB_TAG},
        requested_by=bob,
    )
    Reservation.objects.create(
        reservation_id=77,
        charge_point=charge_point,
        connector_id=1,
        id_tag=BOB_TAG,
        expiry_date=timezone.now(),
    )
    ChargingProfile.objects.create(
        charge_point=charge_point,
        connector_id=2,
        charging_profile_id=1,
        transaction_id=0,
        stack_level=0,
        purpose="TxProfile",
        kind="Absolute",
        charging_rate_unit="A",
    )
    JournalEntry.objects.create(
        charge_point=charge_point,
        direction="in",
        message_type=2,
        action="Authorize",
        payload={"idTag": BOB_TAG},
        timestamp=timezone.now(),
    )
    return {"alice": alice, "bob": bob, "sessions": sessions, "invoices": invoices}


def get_paths() -> list[str]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(path for path, item in schema["paths"].items() if "get" in item)


def fill(path: str, world) -> str:
    """Path parameters naming Bob's objects wherever the resource has an owner."""
    bob = world["bob"]
    values = {
        "/api/v1/transactions/{id}/": world["sessions"]["bob"].pk,
        "/api/v1/invoices/{id}/": world["invoices"]["bob"].pk,
        "/api/v1/drivers/{id}/": bob.driver.pk,
        "/api/v1/journal/{id}/": JournalEntry.objects.get().pk,
        "/api/v1/charging-profiles/{id}/": ChargingProfile.objects.get().pk,
        "/api/v1/connectors/{id}/": Connector.objects.filter(connector_id=2).get().pk,
        "/api/v1/stations/{id}/": 1,
        "/api/v1/tariffs/{id}/": 1,
        "/api/v1/billing-failures/{id}/": 1,
        "/api/v1/roaming/parties/{id}/": 1,
    }
    for prefix, value in values.items():
        if path.startswith(prefix):
            path = path.replace("{id}", str(value))
    path = path.replace("{charge_point_id}", "CP1").replace("{id_tag}", BOB_TAG)
    path = path.replace("{reservation_id}", "77")
    path = path.replace("{kind}", "transactions").replace("{file_format}", "csv")
    # Bob's remote start; connector 2 is the one Bob charged at.
    bobs_command = Command.objects.get(requested_by=bob)
    path = path.replace("{command_id}", str(bobs_command.pk)).replace("{connector_id}", "2")
    assert not re.search(r"{\w+}", path), f"no value for a parameter of {path}"
    return path


def test_the_schema_lists_every_collection():
    paths = get_paths()
    for collection in (
        "stations",
        "charge-points",
        "id-tags",
        "transactions",
        "invoices",
        "tariffs",
        "drivers",
        "journal",
        "reservations",
        "charging-profiles",
        "connectors",
    ):
        assert f"/api/v1/{collection}/" in paths
    assert "/api/v1/transactions/{id}/meter-values/" in paths
    assert "/api/v1/me/invoices/" in paths


def test_no_get_endpoint_shows_a_driver_another_drivers_data(world):
    client = client_for(world["alice"])
    checked = 0
    for template in get_paths():
        if not template.startswith("/api/v1/"):
            continue
        path = fill(template, world)
        response = client.get(path)
        assert response.status_code in (200, 403, 404), (path, response.status_code)
        body = response.content.decode("utf-8", "replace") if response.status_code == 200 else ""
        if response["Content-Type"] == "application/pdf":
            pytest.fail(f"{path}: Alice got Bob's invoice PDF")
        for secret in BOB_SECRETS:
            assert secret.lower() not in body.lower(), (path, secret)
        checked += 1
    assert checked >= 20


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/id-tags/",
        "/api/v1/transactions/",
        "/api/v1/invoices/",
        "/api/v1/me/id-tags/",
        "/api/v1/me/transactions/",
        "/api/v1/me/invoices/",
    ],
)
def test_each_own_collection_shows_alice_hers_and_not_bobs(world, path):
    body = client_for(world["alice"]).get(path).json()
    assert body["count"] == 1
    assert "ALICETAG1" in str(body) or body["results"][0].get("transaction") == (
        world["sessions"]["alice"].pk
    )
    assert BOB_TAG not in str(body)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/transactions/{bob_session}/",
        "/api/v1/transactions/{bob_session}/meter-values/",
        "/api/v1/transactions/{bob_session}/timeseries/",
        "/api/v1/invoices/{bob_invoice}/",
        "/api/v1/invoices/{bob_invoice}/pdf/",
        "/api/v1/id-tags/" + BOB_TAG.lower() + "/",
        "/api/v1/reservations/77/",
    ],
)
def test_bobs_objects_are_not_found_for_alice(world, path):
    path = path.format(
        bob_session=world["sessions"]["bob"].pk, bob_invoice=world["invoices"]["bob"].pk
    )
    assert client_for(world["alice"]).get(path).status_code == 404
    assert client_for(world["bob"]).get(path).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/drivers/",
        "/api/v1/journal/",
        "/api/v1/charging-profiles/",
        "/api/v1/charge-points/CP1/commands/",
        "/api/v1/billing-failures/",
    ],
)
def test_operator_collections_are_closed_to_drivers(world, path):
    assert client_for(world["alice"]).get(path).status_code == 403

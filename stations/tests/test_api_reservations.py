"""Reservations and charging profiles (read-only), and the charge point's security settings."""

from datetime import timedelta

import pytest
from django.utils import timezone

from api_support.testing import client_for, make_charge_point, make_driver, make_operator
from stations.models import (
    ChargePoint,
    ChargingProfile,
    ChargingSchedulePeriod,
    CompatibilityProfile,
    Reservation,
)

pytestmark = pytest.mark.django_db

RESERVATIONS = "/api/v1/reservations/"
PROFILES = "/api/v1/charging-profiles/"


def reserve(charge_point, reservation_id, id_tag, **fields):
    return Reservation.objects.create(
        reservation_id=reservation_id,
        charge_point=charge_point,
        connector_id=1,
        id_tag=id_tag,
        expiry_date=timezone.now() + timedelta(hours=1),
        status="accepted",
        **fields,
    )


def reservation_ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return sorted(row["reservation_id"] for row in response.json()["results"])


def test_reservations_for_operators_and_anonymous():
    charge_point = make_charge_point("CP1")
    reserve(charge_point, 7, "TAG-1")
    assert client_for().get(RESERVATIONS).status_code == 401
    assert client_for(make_operator()).get(RESERVATIONS).status_code == 403
    client = client_for(make_operator("stations.view_reservation"))
    body = client.get(f"{RESERVATIONS}7/").json()
    assert body["charge_point"] == "CP1"
    assert body["id_tag"] == "TAG-1"
    assert body["status"] == "accepted"
    assert client.delete(f"{RESERVATIONS}7/").status_code == 405


def test_driver_sees_reservations_for_own_tags_or_made_by_them():
    charge_point = make_charge_point("CP1")
    alice = make_driver("alice", "ALICE-1")
    make_driver("bob", "BOB-1")
    reserve(charge_point, 1, "alice-1")
    reserve(charge_point, 2, "ANY-TAG", requested_by=alice)
    reserve(charge_point, 3, "BOB-1")
    client = client_for(alice)
    assert reservation_ids(client.get(RESERVATIONS)) == [1, 2]
    assert reservation_ids(client.get("/api/v1/me/reservations/")) == [1, 2]
    assert client.get(f"{RESERVATIONS}3/").status_code == 404


def test_reservation_filters():
    charge_point = make_charge_point("CP1")
    reserve(charge_point, 1, "TAG-1")
    Reservation.objects.filter(reservation_id=1).update(status="expired")
    reserve(make_charge_point("CP2"), 2, "TAG-2")
    client = client_for(make_operator("stations.view_reservation"))
    assert reservation_ids(client.get(RESERVATIONS, {"status": "expired"})) == [1]
    assert reservation_ids(client.get(RESERVATIONS, {"charge_point": "CP2"})) == [2]
    assert reservation_ids(client.get(RESERVATIONS, {"id_tag": "tag-1"})) == [1]


def test_charging_profiles_for_operators_only():
    charge_point = make_charge_point("CP1")
    profile = ChargingProfile.objects.create(
        charge_point=charge_point,
        connector_id=1,
        charging_profile_id=9,
        stack_level=0,
        purpose="TxDefaultProfile",
        kind="Absolute",
        charging_rate_unit="A",
    )
    ChargingSchedulePeriod.objects.create(profile=profile, start_period=0, limit=16)
    assert client_for(make_driver("alice")).get(PROFILES).status_code == 403
    client = client_for(make_operator("stations.view_chargingprofile"))
    body = client.get(PROFILES, {"charge_point": "CP1", "installed": "true"}).json()
    assert body["count"] == 1
    [row] = body["results"]
    assert row["charging_profile_id"] == 9
    assert row["periods"] == [{"start_period": 0, "limit": "16.0", "number_phases": None}]


def test_list_query_counts(django_assert_max_num_queries):
    charge_point = make_charge_point("CP1")
    for number in range(10):
        reserve(charge_point, number, f"TAG-{number}")
        profile = ChargingProfile.objects.create(
            charge_point=charge_point,
            connector_id=1,
            charging_profile_id=number,
            stack_level=number,
            purpose="TxDefaultProfile",
            kind="Absolute",
            charging_rate_unit="W",
        )
        ChargingSchedulePeriod.objects.create(profile=profile, start_period=0, limit=7400)
    client = client_for(make_operator("stations.view_reservation", "stations.view_chargingprofile"))
    with django_assert_max_num_queries(5):
        assert client.get(RESERVATIONS).json()["count"] == 10
    with django_assert_max_num_queries(6):
        assert client.get(PROFILES).json()["count"] == 10


# --- charge point security settings ------------------------------------------------------


def test_security_profile_1_needs_a_password():
    make_charge_point("CP1")
    client = client_for(make_operator("stations.change_chargepoint", "stations.view_chargepoint"))
    refused = client.patch("/api/v1/charge-points/CP1/", {"security_profile": 1}, format="json")
    assert refused.status_code == 400
    assert "password" in refused.json()
    accepted = client.patch(
        "/api/v1/charge-points/CP1/",
        {"security_profile": 1, "password": "0123456789abcdef"},
        format="json",
    )
    assert accepted.status_code == 200
    assert accepted.json()["security_profile"] == 1
    cleared = client.patch("/api/v1/charge-points/CP1/", {"password": None}, format="json")
    assert cleared.status_code == 400
    assert ChargePoint.objects.get().check_password("0123456789abcdef")


def test_compatibility_profile_is_set_by_name():
    CompatibilityProfile.objects.create(name="ACME quirks", vendor="ACME")
    client = client_for(make_operator("stations.add_chargepoint", "stations.change_chargepoint"))
    response = client.post(
        "/api/v1/charge-points/",
        {
            "charge_point_id": "CP1",
            "compatibility_profile": "ACME quirks",
            "heartbeat_interval": 60,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    charge_point = ChargePoint.objects.get()
    assert charge_point.compatibility_profile.name == "ACME quirks"
    assert charge_point.heartbeat_interval == 60
    unknown = client.patch(
        "/api/v1/charge-points/CP1/", {"compatibility_profile": "Nope"}, format="json"
    )
    assert unknown.status_code == 400
    assert "compatibility_profile" in unknown.json()

"""Charge point ids as operators read them: no look-alikes through any door."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from api_support.testing import client_for, make_operator
from stations.models import ChargePoint, charge_point_id_is_valid
from stations.models.validators import charge_point_id_canonical

# Read as "CP-A" or "CP A" by an operator, or able to forge a log line.
LOOK_ALIKES = [
    "CP-A ",
    " CP-A",
    " ",
    "CP  A",
    "CP-A\t",
    "CP-A\n",
    "CP-A\r\nFAKE",
    "CP-A\x00",
    "CP-A\x1b[0m",
    "CP-A\u00a0",
    "CP-A\u2028",
]
STILL_VALID = ["CP A", "CP:01 A#", "a b c d", "A" * 64]


@pytest.mark.parametrize("charge_point_id", LOOK_ALIKES)
def test_surrounding_or_double_spaces_and_control_characters_are_refused(charge_point_id):
    assert not charge_point_id_is_valid(charge_point_id)
    with pytest.raises(ValidationError) as refused:
        ChargePoint(charge_point_id=charge_point_id).clean_fields()
    assert "charge_point_id" in refused.value.message_dict


@pytest.mark.parametrize("charge_point_id", STILL_VALID)
def test_single_inner_spaces_stay_valid(charge_point_id):
    assert charge_point_id_is_valid(charge_point_id)


def test_the_canonical_id_ignores_case_only():
    assert charge_point_id_canonical("CP-A") == charge_point_id_canonical("cp-a") == "cp-a"
    assert charge_point_id_canonical("CP A") != charge_point_id_canonical("CP-A")


@pytest.mark.django_db
def test_full_clean_refuses_an_id_differing_only_by_case():
    ChargePoint.objects.create(charge_point_id="CP-A")
    with pytest.raises(ValidationError) as refused:
        ChargePoint(charge_point_id="cp-a").full_clean()
    assert refused.value.messages == [
        "A charge point with this id exists (charge point ids ignore case)."
    ]
    ChargePoint(charge_point_id="CP-B").full_clean()  # others are fine


@pytest.mark.django_db
def test_the_database_refuses_an_id_differing_only_by_case():
    """The index closes the race two registrations could win past full_clean."""
    ChargePoint.objects.create(charge_point_id="CP-A")
    with pytest.raises(IntegrityError), transaction.atomic():
        ChargePoint.objects.create(charge_point_id="Cp-a")
    assert list(ChargePoint.objects.values_list("charge_point_id", flat=True)) == ["CP-A"]


@pytest.mark.django_db
@pytest.mark.parametrize("charge_point_id", ["cp-a", "Cp-A", "CP-A ", " cp-a\r\n"])
def test_the_api_refuses_a_look_alike_of_a_registered_id_naming_the_field(charge_point_id):
    """DRF trims surrounding white space: what is left must not be a look-alike either."""
    ChargePoint.objects.create(charge_point_id="CP-A")
    client = client_for(make_operator(superuser=True))
    body = {"charge_point_id": charge_point_id}
    response = client.post("/api/v1/charge-points/", body, format="json")
    assert response.status_code == 400, response.json()
    assert "charge_point_id" in response.json()
    assert list(ChargePoint.objects.values_list("charge_point_id", flat=True)) == ["CP-A"]


@pytest.mark.django_db
def test_the_api_renames_a_charge_point_in_case_only():
    """Its own id is no collision: "CP-A" may become "cp-a"."""
    charge_point = ChargePoint.objects.create(charge_point_id="CP-A")
    ChargePoint.objects.create(charge_point_id="CP-B")
    client = client_for(make_operator(superuser=True))
    url = f"/api/v1/charge-points/{charge_point.charge_point_id}/"
    response = client.patch(url, {"charge_point_id": "cp-a"}, format="json")
    assert response.status_code == 200, response.json()
    response = client.patch("/api/v1/charge-points/cp-a/", {"charge_point_id": "cp-b"})
    assert response.status_code == 400
    assert sorted(ChargePoint.objects.values_list("charge_point_id", flat=True)) == [
        "CP-B",
        "cp-a",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("charge_point_id", ["CP  A", "CP-A\x00", "CP-A\tB"])
def test_the_api_refuses_a_malformed_id(charge_point_id):
    client = client_for(make_operator(superuser=True))
    body = {"charge_point_id": charge_point_id}
    response = client.post("/api/v1/charge-points/", body, format="json")
    assert response.status_code == 400, response.json()
    assert "charge_point_id" in response.json()
    assert not ChargePoint.objects.exists()


@pytest.mark.django_db
def test_the_admin_refuses_a_case_duplicate(admin_client):
    ChargePoint.objects.create(charge_point_id="CP-A")
    data = {
        "charge_point_id": "cp-a",
        "station": "",
        "registration_status": "Accepted",
        "security_profile": 0,
        "heartbeat_interval": "",
        "new_password": "",
        "connectors-TOTAL_FORMS": "0",
        "connectors-INITIAL_FORMS": "0",
    }
    response = admin_client.post(reverse("admin:stations_chargepoint_add"), data)
    assert response.status_code == 200, "the admin saved a look-alike"
    assert "charge point ids ignore case" in response.content.decode()
    assert ChargePoint.objects.count() == 1

"""The API refuses a remote start (or reservation) for a blank id tag, naming the field."""

import pytest

from api_support.testing import client_for, make_charge_point, make_operator
from ocpp_consumer.models import Command
from stations.models import ChargePoint

pytestmark = pytest.mark.django_db

COMMANDS = "/api/v1/charge-points/CP1/commands/"


@pytest.fixture(autouse=True)
def _short_timeout(settings):
    # Should a refused command be sent after all, fail fast instead of waiting 30 s.
    settings.OCPP_CALL_TIMEOUT = 0.1


def operator_post(path, body):
    client = client_for(make_operator("stations.change_chargepoint"))
    return client.post(f"{COMMANDS}{path}", body, format="json")


@pytest.mark.parametrize("tag", ["", " ", "\t  "])
def test_remote_start_with_a_blank_id_tag_is_a_400(tag):
    make_charge_point("CP1", is_online=True)
    response = operator_post("remote-start-transaction/", {"connector_id": 1, "id_tag": tag})
    assert response.status_code == 400
    assert response.json() == {"id_tag": ["This field may not be blank."]}
    assert not Command.objects.exists()


def test_reserve_now_with_a_blank_id_tag_is_a_400():
    make_charge_point("CP1", is_online=True)
    body = {"connector_id": 1, "expiry_date": "2030-01-01T00:00:00Z", "id_tag": " ",
            "reservation_id": 5}  # fmt: skip
    response = operator_post("reserve-now/", body)
    assert response.status_code == 400
    assert response.json() == {"id_tag": ["This field may not be blank."]}


def test_request_start_201_with_a_blank_id_token_is_a_400():
    charge_point = make_charge_point("CP1", is_online=True)
    ChargePoint.objects.filter(pk=charge_point.pk).update(ocpp_version="2.0.1")
    response = operator_post(
        "request-start-transaction/",
        {"evse_id": 1, "id_token": {"id_token": "  ", "type": "Central"}},
    )
    assert response.status_code == 400
    assert response.json() == {"id_token.id_token": ["This field may not be blank."]}
    assert not Command.objects.exists()

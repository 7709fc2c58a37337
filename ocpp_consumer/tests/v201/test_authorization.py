"""OCPP 2.0.1 Authorize: the same id tags and decision as 1.6, in 2.0.1's idTokenInfo."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async

from drivers.models import IdTag
from drivers.selectors import Authorization
from ocpp_consumer.v201.id_tokens import id_token_info
from stations.services.registration import NOT_IN_SERVICE

from .station import answer_201, station_201

pytestmark = pytest.mark.django_db(transaction=True)

EXPIRY = datetime(2030, 1, 1, tzinfo=UTC)


@sync_to_async
def tags() -> None:
    group = IdTag.objects.create(id_tag="FLEET-7")
    IdTag.objects.create(id_tag="04A2B3C4D5", parent=group, expiry_date=EXPIRY)
    IdTag.objects.create(id_tag="BLOCKED-1", status="Blocked")
    IdTag.objects.create(id_tag="OLD-1", expiry_date=datetime(2020, 1, 1, tzinfo=UTC))


def authorize(id_token: str, token_type: str = "ISO14443", **extra) -> dict:
    return {"idToken": {"idToken": id_token, "type": token_type}, **extra}


async def test_a_1_6_id_tag_is_accepted_with_its_expiry_and_group(charge_point_socket):
    await tags()
    socket = await station_201(charge_point_socket)
    # The card's UID as a 2.0.1 charger reads it: the same tag, compared ignoring case.
    answer = await answer_201(socket, "Authorize", authorize("04a2b3c4d5"), "a")
    assert answer == {
        "idTokenInfo": {
            "status": "Accepted",
            "cacheExpiryDateTime": "2030-01-01T00:00:00.000Z",
            "groupIdToken": {"idToken": "FLEET-7", "type": "Central"},
        }
    }


@pytest.mark.parametrize(
    ("token", "token_type", "status"),
    [
        ("BLOCKED-1", "ISO14443", "Blocked"),
        ("OLD-1", "ISO15693", "Expired"),
        ("NOBODY", "eMAID", "Unknown"),
        ("FLEET-7", "Central", "Accepted"),
        ("04A2B3C4D5", "KeyCode", "Accepted"),  # the value names the tag, whatever its type
        ("", "NoAuthorization", "Invalid"),  # no free vend here
    ],
)
async def test_each_token_gets_the_status_of_its_tag(
    charge_point_socket, token, token_type, status
):
    await tags()
    socket = await station_201(charge_point_socket)
    answer = await answer_201(socket, "Authorize", authorize(token, token_type), "a")
    assert answer["idTokenInfo"]["status"] == status


async def test_a_contract_certificate_is_not_checked(charge_point_socket):
    await tags()
    socket = await station_201(charge_point_socket)
    hashes = [
        {
            "hashAlgorithm": "SHA256",
            "issuerNameHash": "a" * 64,
            "issuerKeyHash": "b" * 64,
            "serialNumber": "01",
            "responderURL": "http://ocsp.example",
        }
    ]
    payload = authorize("BLOCKED-1", "eMAID", iso15118CertificateHashData=hashes)
    answer = await answer_201(socket, "Authorize", payload, "a")
    assert answer == {"idTokenInfo": {"status": "Blocked"}}  # no certificateStatus


def test_a_charge_point_not_in_service_learns_nothing_about_a_token():
    card = {"idToken": "X", "type": "ISO14443"}
    assert id_token_info(NOT_IN_SERVICE, id_token=card) == {"status": "Invalid"}
    # Invalid without a tag: a token no tag has.
    assert id_token_info(Authorization(status="Invalid"), id_token=card) == {"status": "Unknown"}

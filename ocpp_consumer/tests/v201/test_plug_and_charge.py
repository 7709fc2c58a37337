"""OCPP 2.0.1 Authorize with ISO 15118 contract certificate hash data (Plug & Charge)."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from drivers.models import ContractCertificate, Driver, IdTag, User

from .station import answer_201, station_201

pytestmark = pytest.mark.django_db(transaction=True)

EMAID = "DEACME0000001X"
HASH = {"hashAlgorithm": "SHA256", "issuerNameHash": "AA" * 32, "issuerKeyHash": "bb" * 32}
CONTRACT = {**HASH, "serialNumber": "1F2E", "responderURL": "http://ocsp.example.com"}


@sync_to_async
def contract(status: str = "valid") -> ContractCertificate:
    driver = Driver.objects.create(user=User.objects.create_user("ev-driver", password="x" * 20))
    IdTag.objects.create(id_tag=EMAID, driver=driver)
    return ContractCertificate.objects.create(
        driver=driver,
        emaid=EMAID,
        issuer_name_hash="aa" * 32,
        issuer_key_hash="BB" * 32,
        serial_number="1f2e",
        status=status,
    )


def authorize(emaid: str = EMAID, hash_data: dict = CONTRACT) -> dict:
    return {
        "idToken": {"idToken": emaid, "type": "eMAID"},
        "iso15118CertificateHashData": [hash_data],
    }


@pytest.mark.parametrize(
    ("status", "certificate_status", "token_status"),
    [
        ("valid", "Accepted", "Accepted"),
        ("revoked", "CertificateRevoked", "Invalid"),
        ("expired", "CertificateExpired", "Invalid"),
        ("cancelled", "ContractCancelled", "Invalid"),
    ],
)
async def test_the_contract_certificate_decides_with_the_emaid(
    charge_point_socket, status, certificate_status, token_status
):
    await contract(status)
    socket = await station_201(charge_point_socket)
    answer = await answer_201(socket, "Authorize", authorize(), "a1")
    assert answer["certificateStatus"] == certificate_status
    assert answer["idTokenInfo"]["status"] == token_status


async def test_an_unknown_or_foreign_certificate_has_no_chain_to_us(charge_point_socket):
    await contract()
    socket = await station_201(charge_point_socket)
    unknown = await answer_201(
        socket, "Authorize", authorize(hash_data={**CONTRACT, "serialNumber": "99"}), "a2"
    )
    assert (unknown["certificateStatus"], unknown["idTokenInfo"]["status"]) == (
        "CertChainError",
        "Invalid",
    )
    other_emaid = "DEACME0000002Y"
    await IdTag.objects.acreate(id_tag=other_emaid)
    foreign = await answer_201(socket, "Authorize", authorize(emaid=other_emaid), "a3")
    assert foreign["certificateStatus"] == "CertChainError"


async def test_without_hash_data_no_certificate_status_is_given(charge_point_socket):
    await contract()
    socket = await station_201(charge_point_socket)
    frame = await socket.call("Authorize", {"idToken": {"idToken": EMAID, "type": "eMAID"}}, "a4")
    assert frame == [3, "a4", {"idTokenInfo": {"status": "Accepted"}}]

"""ISO 15118 relays: Get15118EVCertificate and GetCertificateStatus through the provider."""

from __future__ import annotations

import pytest

from .station import answer_201, station_201

pytestmark = pytest.mark.django_db(transaction=True)

EV_CERTIFICATE = {
    "iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef",
    "action": "Install",
    "exiRequest": "gAQMAAAA",
}
OCSP_REQUEST = {
    "ocspRequestData": {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": "aa" * 32,
        "issuerKeyHash": "bb" * 32,
        "serialNumber": "1f",
        "responderURL": "http://ocsp.example.com",
    }
}
seen: list[tuple[str, str, dict]] = []


def provider(*, action: str, charge_point_id: str, payload: dict) -> dict:
    """A PKI stand-in for the tests: answers what a Contract Certificate Pool would."""
    seen.append((action, charge_point_id, payload))
    if action == "Get15118EVCertificate":
        return {"status": "Accepted", "exiResponse": "gAQNAAAA"}
    return {"status": "Accepted", "ocspResult": "MIIBocsp"}


def broken_provider(**_) -> dict:
    return {"status": "Maybe"}


@pytest.fixture(autouse=True)
def _forget():
    seen.clear()


async def test_without_a_provider_the_lab_answers_failed_and_why(charge_point_socket):
    socket = await station_201(charge_point_socket)
    answer = await answer_201(socket, "Get15118EVCertificate", EV_CERTIFICATE, "e1")
    assert answer["status"] == "Failed" and answer["exiResponse"] == ""
    assert answer["statusInfo"]["reasonCode"] == "NoProvider"
    assert "OCPP_ISO15118_PROVIDER" in answer["statusInfo"]["additionalInfo"]
    status = await answer_201(socket, "GetCertificateStatus", OCSP_REQUEST, "o1")
    assert status["status"] == "Failed" and status["statusInfo"]["reasonCode"] == "NoProvider"


async def test_a_configured_provider_answers_for_the_csms(charge_point_socket, settings):
    settings.OCPP_ISO15118_PROVIDER = f"{__name__}.provider"
    socket = await station_201(charge_point_socket)
    frame = await socket.call("Get15118EVCertificate", EV_CERTIFICATE, "e2")
    assert frame == [3, "e2", {"status": "Accepted", "exiResponse": "gAQNAAAA"}]
    frame = await socket.call("GetCertificateStatus", OCSP_REQUEST, "o2")
    assert frame == [3, "o2", {"status": "Accepted", "ocspResult": "MIIBocsp"}]
    assert seen == [
        ("Get15118EVCertificate", "CP201", EV_CERTIFICATE),
        ("GetCertificateStatus", "CP201", OCSP_REQUEST),
    ]


async def test_an_invalid_provider_answer_becomes_failed(charge_point_socket, settings):
    settings.OCPP_ISO15118_PROVIDER = f"{__name__}.broken_provider"
    socket = await station_201(charge_point_socket)
    answer = await answer_201(socket, "Get15118EVCertificate", EV_CERTIFICATE, "e3")
    assert (answer["status"], answer["statusInfo"]["reasonCode"]) == ("Failed", "ProviderError")


async def test_a_request_without_its_exi_is_refused(charge_point_socket):
    socket = await station_201(charge_point_socket)
    payload = {key: value for key, value in EV_CERTIFICATE.items() if key != "exiRequest"}
    frame = await socket.call("Get15118EVCertificate", payload, "e4")
    assert frame[:3] == [4, "e4", "OccurrenceConstraintViolation"]

"""OCPP 2.0.1 advanced security: SignCertificate -> CertificateSigned, certificate
commands, BasicAuthPassword rotation, and profile 3 at the handshake."""

from __future__ import annotations

import asyncio

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ocpp_consumer import commands
from ocpp_consumer.commands.validation import command_validate
from ocpp_consumer.framing import V201, validate_request
from ocpp_consumer.handshake import throttle
from ocpp_consumer.journal import journal
from ocpp_consumer.models import Command, JournalEntry
from ocpp_consumer.v201.security_answers import (
    basic_auth_password_generate,
    basic_auth_password_payload,
)
from stations.models import ChargePoint, SecurityEvent

from ..conftest import TIMEOUT, OcppCommunicator, assert_call_result, basic_auth
from ..test_security import answer_next, certificate_authority, csr_for, proxied  # noqa: F401
from .station import BOOT_201, station_201


async def secured_station(charge_point_socket, headers):
    """The station CP201 over ocpp2.0.1 with credentials, booted (Accepted)."""
    socket = await charge_point_socket(
        "CP201", boot=False, subprotocols=["ocpp2.0.1"], headers=headers
    )
    boot = assert_call_result(await socket.call("BootNotification", BOOT_201, "boot"), "boot")
    assert boot["status"] == "Accepted", boot
    return socket


pytestmark = pytest.mark.django_db(transaction=True)

KEY = "0123456789abcdef0123456789abcdef01234567"
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
HASH_DATA = {
    "hashAlgorithm": "SHA256",
    "issuerNameHash": "aa" * 32,
    "issuerKeyHash": "bb" * 32,
    "serialNumber": "01",
}


@pytest.fixture(autouse=True)
def _fresh_throttle():
    throttle.clear()
    yield
    throttle.clear()


async def test_sign_certificate_is_answered_then_certificate_signed_follows(
    charge_point_socket,
    certificate_authority,  # noqa: F811
):
    socket = await station_201(charge_point_socket)
    payload = {"csr": csr_for("CP201"), "certificateType": "ChargingStationCertificate"}
    frame = await socket.call("SignCertificate", payload, "c1")
    assert frame == [3, "c1", {"status": "Accepted"}]
    signed = await answer_next(socket, "CertificateSigned", {"status": "Accepted"})
    validate_request("CertificateSigned", signed[3], V201)
    assert signed[3]["certificateType"] == "ChargingStationCertificate"
    leaf, issuer = x509.load_pem_x509_certificates(signed[3]["certificateChain"].encode())
    ca_cert = x509.load_pem_x509_certificate(certificate_authority.cert_pem.bytes())
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP201"
    assert issuer == ca_cert
    leaf.verify_directly_issued_by(ca_cert)
    usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    await asyncio.sleep(0.2)
    command = await Command.objects.aget(action="CertificateSigned")
    assert command.status == "answered"


async def test_a_v2g_certificate_names_the_secc_and_serves_tls(
    charge_point_socket,
    certificate_authority,  # noqa: F811
):
    socket = await station_201(charge_point_socket)
    payload = {"csr": csr_for("SECC-DE-ACME-1"), "certificateType": "V2GCertificate"}
    assert await socket.call("SignCertificate", payload, "c2") == [3, "c2", {"status": "Accepted"}]
    signed = await answer_next(socket, "CertificateSigned", {"status": "Accepted"})
    assert signed[3]["certificateType"] == "V2GCertificate"
    leaf, _ = x509.load_pem_x509_certificates(signed[3]["certificateChain"].encode())
    usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]


async def test_a_csr_for_another_station_is_rejected_and_nothing_follows(
    charge_point_socket,
    certificate_authority,  # noqa: F811
):
    socket = await station_201(charge_point_socket)
    frame = await socket.call("SignCertificate", {"csr": csr_for("SOMEONE-ELSE")}, "c3")
    assert frame == [3, "c3", {"status": "Rejected", "statusInfo": {"reasonCode": "InvalidCSR"}}]
    assert await socket.receive_nothing(timeout=0.3)


async def test_without_a_signer_every_csr_is_rejected(charge_point_socket):
    socket = await station_201(charge_point_socket)
    frame = await socket.call("SignCertificate", {"csr": csr_for("CP201")}, "c4")
    assert assert_call_result(frame, "c4")["status"] == "Rejected"


@pytest.mark.parametrize(
    ("action", "payload"),
    [
        ("InstallCertificate", {"certificateType": "V2GRootCertificate", "certificate": PEM}),
        ("InstallCertificate", {"certificateType": "CSMSRootCertificate", "certificate": PEM}),
        ("DeleteCertificate", {"certificateHashData": HASH_DATA}),
        ("GetInstalledCertificateIds", {"certificateType": ["V2GRootCertificate"]}),
        ("GetInstalledCertificateIds", {}),
        ("CertificateSigned", {"certificateChain": PEM, "certificateType": "V2GCertificate"}),
    ],
)
def test_certificate_commands_are_sendable_in_2_0_1(action, payload):
    command_validate(action=action, payload=payload, version=V201)


async def test_install_certificate_goes_out_in_the_2_0_1_shape(charge_point_socket):
    socket = await station_201(charge_point_socket)
    payload = {"certificateType": "MORootCertificate", "certificate": PEM}
    sending = asyncio.create_task(
        commands.command_send(
            charge_point_id="CP201", action="InstallCertificate", payload=payload, timeout=TIMEOUT
        )
    )
    frame = await answer_next(socket, "InstallCertificate", {"status": "Accepted"})
    assert frame[3] == payload
    command = await sending
    assert (command.status, command.response) == ("answered", {"status": "Accepted"})


async def make_station(*, profile=1, password=KEY) -> ChargePoint:
    charge_point = ChargePoint(charge_point_id="CP201", security_profile=profile)
    if password:
        charge_point.set_password(password)
    await charge_point.asave()
    return charge_point


async def rotate(socket, attribute_status: str) -> tuple[str, Command]:
    password = basic_auth_password_generate()
    sending = asyncio.create_task(
        commands.command_send(
            charge_point_id="CP201",
            action="SetVariables",
            payload=basic_auth_password_payload(password),
            timeout=TIMEOUT,
        )
    )
    result = {
        "attributeStatus": attribute_status,
        "component": {"name": "SecurityCtrlr"},
        "variable": {"name": "BasicAuthPassword"},
    }
    frame = await answer_next(socket, "SetVariables", {"setVariableResult": [result]})
    assert frame[3]["setVariableData"][0]["attributeValue"] == password  # sent in full
    return password, await sending


async def test_password_rotation_applies_when_accepted_and_is_never_kept_in_clear(
    charge_point_socket,
):
    await make_station()
    socket = await secured_station(charge_point_socket, basic_auth("CP201", KEY))
    password, command = await rotate(socket, "Accepted")
    assert 16 <= len(password) <= 40
    charge_point = await ChargePoint.objects.aget(charge_point_id="CP201")
    assert charge_point.check_password(password) and not charge_point.check_password(KEY)
    assert password not in str(command.payload)
    await journal.flush()
    journaled = [e.payload async for e in JournalEntry.objects.filter(action="SetVariables")]
    assert journaled and password not in str(journaled)
    assert await SecurityEvent.objects.filter(event_type="AuthorizationKeyChanged").aexists()


async def test_a_rejected_password_rotation_keeps_the_old_password(charge_point_socket):
    await make_station()
    socket = await secured_station(charge_point_socket, basic_auth("CP201", KEY))
    await rotate(socket, "Rejected")
    assert (await ChargePoint.objects.aget(charge_point_id="CP201")).check_password(KEY)


async def test_profile_3_client_certificate_through_the_proxy_speaks_2_0_1(settings):
    await make_station(profile=3, password="")
    settings.OCPP_TRUSTED_PROXIES = ["127.0.0.1"]
    headers = proxied(verify="SUCCESS", subject="CN=CP201,O=Example")
    socket = OcppCommunicator("/ocpp/CP201", headers=headers, subprotocols=["ocpp2.0.1"])
    socket.scope["client"] = ("127.0.0.1", 40000)  # the trusted proxy
    assert await socket.connect(timeout=TIMEOUT) == (True, "ocpp2.0.1")
    try:
        boot = assert_call_result(await socket.call("BootNotification", BOOT_201, "b"), "b")
        assert boot["status"] == "Accepted"
        frame = await socket.call("Heartbeat", {}, "h1")
        assert assert_call_result(frame, "h1").keys() == {"currentTime"}
    finally:
        await socket.disconnect(timeout=TIMEOUT)

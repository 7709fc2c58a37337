"""Security profiles at the handshake, key rotation, profile upgrade, security messages."""

import asyncio

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ocpp_consumer import commands
from ocpp_consumer.handshake import throttle
from ocpp_consumer.journal import journal
from ocpp_consumer.models import Command, JournalEntry
from stations.models import ChargePoint, ConfigurationKey, SecurityEvent

from .conftest import TIMEOUT, assert_call_result, basic_auth

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "0123456789abcdef0123456789abcdef01234567"
OTHER_KEY = "fedcba9876543210fedcba9876543210fedcba98"


@pytest.fixture(autouse=True)
def _fresh_throttle():
    throttle.clear()
    yield
    throttle.clear()


async def make_charge_point(charge_point_id="CP1", *, profile=1, password=KEY):
    charge_point = ChargePoint(charge_point_id=charge_point_id, security_profile=profile)
    charge_point.set_password(password)
    await charge_point.asave()
    return charge_point


def proxied(*, proto="https", verify=None, subject=None):
    headers = [(b"x-forwarded-proto", proto.encode())]
    if verify is not None:
        headers.append((b"x-ssl-client-verify", verify.encode()))
    if subject is not None:
        headers.append((b"x-ssl-client-s-dn", subject.encode()))
    return headers


async def opens(handshake, *, headers=(), scheme=None, path="/ocpp/CP1", address="127.0.0.1"):
    from .conftest import OcppCommunicator

    communicator = OcppCommunicator(path, headers=list(headers))
    communicator.scope["client"] = (address, 40000)
    if scheme:
        communicator.scope["scheme"] = scheme
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    if connected:
        await communicator.disconnect()
    return connected


@pytest.mark.parametrize(
    ("credentials", "connects"),
    [(None, False), (("CP1", "wrong-password-1234"), False), (("CP1", OTHER_KEY), False),
     (("CP2", KEY), False), (("CP1", KEY), True)],
    ids=["none", "wrong", "other-charge-points-key", "other-username", "right"],
)  # fmt: skip
async def test_profile_1_basic_auth(handshake, credentials, connects):
    await make_charge_point()
    await make_charge_point("CP2", password=OTHER_KEY)
    headers = basic_auth(*credentials) if credentials else []
    assert await opens(handshake, headers=headers) is connects
    failures = await SecurityEvent.objects.filter(claimed_id="CP1").acount()
    assert failures == (0 if connects else 1)


async def test_profile_2_needs_tls(handshake, settings):
    await make_charge_point(profile=2)
    assert not await opens(handshake, headers=basic_auth("CP1", KEY))  # plain ws: lower profile
    assert await opens(handshake, headers=basic_auth("CP1", KEY), scheme="wss")
    assert not await opens(
        handshake, headers=basic_auth("CP1", "nope-nope-nope-nope"), scheme="wss"
    )


async def test_profile_2_behind_a_trusted_proxy(handshake, settings):
    await make_charge_point(profile=2)
    headers = basic_auth("CP1", KEY) + proxied()
    assert not await opens(handshake, headers=headers)  # proxy not trusted: header ignored
    settings.OCPP_TRUSTED_PROXIES = ["127.0.0.1"]
    assert await opens(handshake, headers=headers)


@pytest.mark.parametrize(
    ("verify", "subject", "connects"),
    [("SUCCESS", "CN=CP1,O=Example", True), ("SUCCESS", "/C=TH/O=Example/CN=CP1", True),
     ("SUCCESS", "CN=CP9,O=Example", False), ("FAILED:unknown ca", "CN=CP1", False), (None, None, False)],
)  # fmt: skip
async def test_profile_3_client_certificate_from_the_proxy(
    handshake, settings, verify, subject, connects
):
    settings.OCPP_TRUSTED_PROXIES = ["127.0.0.1"]
    await make_charge_point(profile=3, password="")
    assert await opens(handshake, headers=proxied(verify=verify, subject=subject)) is connects


async def test_repeated_failures_are_throttled(handshake, settings):
    settings.OCPP_AUTH_FAILURE_LIMIT = 3
    await make_charge_point()
    for _ in range(3):
        assert not await opens(handshake, headers=basic_auth("CP1", "guess-guess-guess-1"))
    # The guessing address is refused, even with the right key ...
    assert not await opens(handshake, headers=basic_auth("CP1", KEY))
    # ... but the charger itself, from an address without failures, is not.
    assert await opens(handshake, headers=basic_auth("CP1", KEY), address="127.0.0.2")


async def answer_next(cp, action, answer):
    frame = await cp.next_frame()
    assert frame[2] == action
    await cp.send_json_to([3, frame[1], answer])
    return frame


async def test_key_rotation_applies_when_accepted_and_is_never_stored_in_clear(charge_point_socket):
    await make_charge_point()
    cp = await charge_point_socket(headers=basic_auth("CP1", KEY))
    sending = asyncio.create_task(
        commands.command_send(
            charge_point_id="CP1",
            action="ChangeConfiguration",
            payload={"key": "AuthorizationKey", "value": OTHER_KEY},
            timeout=TIMEOUT,
        )
    )
    frame = await answer_next(cp, "ChangeConfiguration", {"status": "Accepted"})
    assert frame[3] == {"key": "AuthorizationKey", "value": OTHER_KEY}  # sent in full
    command = await sending
    await journal.flush()
    charge_point = await ChargePoint.objects.aget(charge_point_id="CP1")
    assert charge_point.check_password(OTHER_KEY) and not charge_point.check_password(KEY)
    assert command.payload["value"] == "********"
    stored_key = await ConfigurationKey.objects.aget(key="AuthorizationKey")
    assert stored_key.value == "********"
    journaled = [e.payload async for e in JournalEntry.objects.filter(action="ChangeConfiguration")]
    assert OTHER_KEY not in str(journaled)


async def test_rejected_key_rotation_keeps_the_old_key(charge_point_socket):
    await make_charge_point()
    cp = await charge_point_socket(headers=basic_auth("CP1", KEY))
    sending = asyncio.create_task(
        commands.command_send(
            charge_point_id="CP1",
            action="ChangeConfiguration",
            payload={"key": "AuthorizationKey", "value": OTHER_KEY},
            timeout=TIMEOUT,
        )
    )
    await answer_next(cp, "ChangeConfiguration", {"status": "Rejected"})
    await sending
    assert (await ChargePoint.objects.aget(charge_point_id="CP1")).check_password(KEY)


async def test_security_profile_upgrade(charge_point_socket, handshake):
    await make_charge_point(profile=1)
    cp = await charge_point_socket(headers=basic_auth("CP1", KEY))
    sending = asyncio.create_task(
        commands.command_send(
            charge_point_id="CP1",
            action="ChangeConfiguration",
            payload={"key": "SecurityProfile", "value": "2"},
            timeout=TIMEOUT,
        )
    )
    await answer_next(cp, "ChangeConfiguration", {"status": "Accepted"})
    await sending
    assert (await ChargePoint.objects.aget(charge_point_id="CP1")).security_profile == 2
    assert not await opens(handshake, headers=basic_auth("CP1", KEY))  # plain: refused now
    assert await opens(handshake, headers=basic_auth("CP1", KEY), scheme="wss")


@pytest.mark.parametrize(
    ("event_type", "critical"), [("TamperDetectionActivated", True), ("InvalidMessages", False)]
)
async def test_security_event_notification_is_stored(charge_point_socket, event_type, critical):
    cp = await charge_point_socket()
    payload = {"type": event_type, "timestamp": "2026-11-26T10:00:00Z", "techInfo": "lid opened"}
    assert (
        assert_call_result(await cp.call("SecurityEventNotification", payload, unique_id="s"), "s")
        == {}
    )
    event = await SecurityEvent.objects.aget(event_type=event_type)
    assert (event.critical, event.tech_info, event.origin) == (
        critical,
        "lid opened",
        "charge_point",
    )


async def test_log_and_signed_firmware_status_are_kept(charge_point_socket):
    cp = await charge_point_socket()
    await cp.call("LogStatusNotification", {"status": "Uploaded", "requestId": 3}, unique_id="l")
    await cp.call(
        "SignedFirmwareStatusNotification",
        {"status": "InvalidSignature", "requestId": 4},
        unique_id="f",
    )
    charge_point = await ChargePoint.objects.aget(charge_point_id="CP1")
    assert (charge_point.log_status, charge_point.firmware_status) == (
        "Uploaded",
        "InvalidSignature",
    )


def csr_for(common_name: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture
def certificate_authority(settings, tmp_path):
    ca = trustme.CA()
    cert_file, key_file = tmp_path / "ca.pem", tmp_path / "ca.key"
    ca.cert_pem.write_to_path(str(cert_file))
    ca.private_key_pem.write_to_path(str(key_file))
    settings.OCPP_CA_CERT_FILE, settings.OCPP_CA_KEY_FILE = str(cert_file), str(key_file)
    return ca


async def test_sign_certificate_then_certificate_signed(charge_point_socket, certificate_authority):
    cp = await charge_point_socket()
    answer = await cp.call("SignCertificate", {"csr": csr_for("CP1")}, unique_id="c")
    assert assert_call_result(answer, "c") == {"status": "Accepted"}
    frame = await answer_next(cp, "CertificateSigned", {"status": "Accepted"})
    chain = x509.load_pem_x509_certificates(frame[3]["certificateChain"].encode())
    leaf, issuer = chain
    ca_cert = x509.load_pem_x509_certificate(certificate_authority.cert_pem.bytes())
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP1"
    assert leaf.issuer == ca_cert.subject and issuer == ca_cert
    leaf.verify_directly_issued_by(ca_cert)
    await asyncio.sleep(0.2)
    command = await Command.objects.aget(action="CertificateSigned")
    assert command.status == "answered"


@pytest.mark.parametrize("common_name", ["SOMEONE-ELSE"])
async def test_sign_certificate_for_another_identity_is_rejected(
    charge_point_socket, certificate_authority, common_name
):
    cp = await charge_point_socket()
    answer = await cp.call("SignCertificate", {"csr": csr_for(common_name)}, unique_id="c")
    assert assert_call_result(answer, "c") == {"status": "Rejected"}
    assert await cp.receive_nothing(timeout=0.3)


async def test_sign_certificate_without_a_signer_is_rejected(charge_point_socket):
    cp = await charge_point_socket()
    answer = await cp.call("SignCertificate", {"csr": csr_for("CP1")}, unique_id="c")
    assert assert_call_result(answer, "c") == {"status": "Rejected"}

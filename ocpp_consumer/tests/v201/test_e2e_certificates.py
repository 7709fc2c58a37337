"""OCPP 2.0.1 SignCertificate against real Daphne: the station gets its chain by CertificateSigned.

The station is the `ocpp` package's v201 ChargePoint over `websockets`; the
CSMS signs with a test CA (trustme) named by OCPP_CA_CERT_FILE/OCPP_CA_KEY_FILE.
"""

import asyncio

import pytest
import trustme
import websockets
from cryptography import x509
from cryptography.x509.oid import NameOID
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action

from csms_project import testing
from ocpp_consumer.models import Command

from ..test_security import csr_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

STATION_ID = "E2E-CERT-201"


class Station(ChargePoint):
    """Keeps the chain the CSMS sends it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.signed: asyncio.Future = asyncio.get_running_loop().create_future()

    @on(Action.certificate_signed)
    def on_certificate_signed(self, certificate_chain, certificate_type=None, **_):
        if not self.signed.done():
            self.signed.set_result((certificate_chain, certificate_type))
        return call_result.CertificateSigned(status="Accepted")


def command_answered() -> bool:
    return Command.objects.filter(action="CertificateSigned", status="answered").exists()


async def play(ws_url: str) -> dict:
    async with websockets.connect(ws_url, subprotocols=["ocpp2.0.1"]) as ws:
        station = Station(STATION_ID, ws, response_timeout=15)
        listener = asyncio.create_task(station.start())
        try:
            boot = await station.call(
                call.BootNotification(
                    charging_station={"vendor_name": "E2EVendor", "model": "Cert-201"},
                    reason="PowerUp",
                )
            )
            answer = await station.call(
                call.SignCertificate(
                    csr=csr_for(STATION_ID), certificate_type="ChargingStationCertificate"
                )
            )
            chain, certificate_type = await asyncio.wait_for(station.signed, 15)
            # Connected until the CSMS has our answer (it is sent after the handler returns).
            await asyncio.to_thread(testing.wait_until, command_answered, 15)
        finally:
            listener.cancel()
    return {"boot": boot.status, "answer": answer.status, "chain": chain, "type": certificate_type}


def test_sign_certificate_then_certificate_signed_over_real_daphne(tmp_path):
    ca = trustme.CA()
    cert_file, key_file = tmp_path / "ca.pem", tmp_path / "ca.key"
    ca.cert_pem.write_to_path(str(cert_file))
    ca.private_key_pem.write_to_path(str(key_file))
    env = testing.process_env(OCPP_CA_CERT_FILE=str(cert_file), OCPP_CA_KEY_FILE=str(key_file))
    with testing.daphne_node(env, tmp_path) as base_url:
        ws_url = base_url.replace("http://", "ws://") + f"/ocpp/{STATION_ID}"
        outcome = asyncio.run(play(ws_url))

    assert (outcome["boot"], outcome["answer"], outcome["type"]) == (
        "Accepted",
        "Accepted",
        "ChargingStationCertificate",
    )
    leaf, issuer = x509.load_pem_x509_certificates(outcome["chain"].encode())
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    assert issuer == ca_cert
    leaf.verify_directly_issued_by(ca_cert)
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == STATION_ID

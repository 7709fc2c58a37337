"""OCPP 2.0.1 SignCertificate: the 1.6 security extension's signing, in 2.0.1 shapes.

The station sends a CSR; a good one is Accepted at once and the signed chain
follows as a CertificateSigned command (through the command path, so it is
recorded and journaled like any other). The CSMS never signs in the handler:
an external signer may be slow, and the answer must not wait for it.
"""

from __future__ import annotations

import logging

from asgiref.sync import sync_to_async
from ocpp.v201.enums import Action

from stations.services import certificates

from ... import commands
from ...handlers import Session
from ..registry import handles

logger = logging.getLogger(__name__)

# 2.0.1 certificateType -> the signing service's neutral use.
CERTIFICATE_USES = {
    "ChargingStationCertificate": certificates.CHARGING_STATION_USE,
    "V2GCertificate": certificates.V2G_USE,
}
DEFAULT_CERTIFICATE_TYPE = "ChargingStationCertificate"


@handles(Action.sign_certificate)
async def sign_certificate(session: Session, payload: dict) -> dict:
    """Accept a good CSR; the chain follows as CertificateSigned of the same type."""
    charge_point_id = session.charge_point.charge_point_id
    certificate_type = payload.get("certificateType", DEFAULT_CERTIFICATE_TYPE)
    use = CERTIFICATE_USES[certificate_type]
    try:
        certificates.certificate_request_check(
            csr_pem=payload["csr"], charge_point_id=charge_point_id, certificate_use=use
        )
    except certificates.CertificateRequestRefused as exc:
        logger.warning("SignCertificate from %s rejected: %s", charge_point_id, exc)
        return {"status": "Rejected", "statusInfo": {"reasonCode": "InvalidCSR"}}

    async def send_signed_certificate():
        chain = await sync_to_async(certificates.certificate_sign, thread_sensitive=False)(
            csr_pem=payload["csr"], charge_point_id=charge_point_id, certificate_use=use
        )
        await commands.command_send(
            charge_point_id=charge_point_id,
            action="CertificateSigned",
            payload={"certificateChain": chain, "certificateType": certificate_type},
            source="system",
        )

    session.after_answer.append(send_signed_certificate)
    return {"status": "Accepted"}

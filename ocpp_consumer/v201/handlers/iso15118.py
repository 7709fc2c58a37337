"""ISO 15118 (Plug & Charge) requests a station relays: contract certificates and OCSP.

The CSMS only relays them: a contract certificate comes from a mobility
operator's PKI (through a Contract Certificate Pool), an OCSP answer from the
certificate's responder. OCPP_ISO15118_PROVIDER names the callable that does
it, `provide(*, action, charge_point_id, payload) -> dict`, given the 2.0.1
request payload (camelCase) and returning the 2.0.1 answer payload. Without
one, the built-in lab provider answers Failed with a statusInfo saying so:
a station then knows Plug & Charge certificates are not available here.

Authorize with `iso15118CertificateHashData` is answered from our own
records instead: the drivers' contract certificates (console: Contract
certificates) give its certificateStatus.
"""

from __future__ import annotations

import logging

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils.module_loading import import_string
from ocpp.v201.enums import Action

from drivers.contracts import UNKNOWN, contract_certificate_status
from drivers.models import ContractCertificateStatus

from ... import errors
from ...framing import V201, validate_result
from ...handlers import Session
from ..registry import handles

logger = logging.getLogger(__name__)

NO_PROVIDER = "NoProvider"  # reasonCode (at most 20 characters)
PROVIDER_FAILED = "ProviderError"


def _failed(action: str, reason_code: str, additional_info: str) -> dict:
    answer = {
        "status": "Failed",
        "statusInfo": {"reasonCode": reason_code, "additionalInfo": additional_info[:512]},
    }
    if action == Action.get_15118_ev_certificate.value:
        answer["exiResponse"] = ""  # required even when Failed
    return answer


def lab_provider(*, action: str, charge_point_id: str, payload: dict) -> dict:
    """No PKI behind this CSMS: every request fails, and says why."""
    return _failed(
        action,
        NO_PROVIDER,
        "No ISO 15118 certificate provider is configured on this CSMS "
        "(setting OCPP_ISO15118_PROVIDER).",
    )


def _provider():
    path = settings.OCPP_ISO15118_PROVIDER
    return import_string(path) if path else lab_provider


def iso15118_relay(*, action: str, charge_point_id: str, payload: dict) -> dict:
    """The provider's answer when it is a valid 2.0.1 answer; Failed otherwise."""
    try:
        answer = _provider()(action=action, charge_point_id=charge_point_id, payload=payload)
        validate_result(action, answer, V201)
    except errors.OCPPError as exc:
        logger.warning("%s provider answered an invalid payload: %s", action, exc.description)
        return _failed(action, PROVIDER_FAILED, "The certificate provider's answer was invalid.")
    except Exception:
        logger.exception("%s provider failed for %s", action, charge_point_id)
        return _failed(action, PROVIDER_FAILED, "The certificate provider could not be reached.")
    return answer


async def _relay(session: Session, action: Action, payload: dict) -> dict:
    # Off the event loop's thread: a provider calls remote services.
    return await sync_to_async(iso15118_relay, thread_sensitive=False)(
        action=action.value,
        charge_point_id=session.charge_point.charge_point_id,
        payload=payload,
    )


@handles(Action.get_15118_ev_certificate)
async def get_15118_ev_certificate(session: Session, payload: dict) -> dict:
    """Install or update a contract certificate in the vehicle (the EXI request relayed)."""
    return await _relay(session, Action.get_15118_ev_certificate, payload)


@handles(Action.get_certificate_status)
async def get_certificate_status(session: Session, payload: dict) -> dict:
    """The OCSP status of a certificate of the vehicle's chain (the station cannot ask)."""
    return await _relay(session, Action.get_certificate_status, payload)


# Our contract status -> Authorize certificateStatus; an unknown certificate has no chain to us.
CERTIFICATE_STATUS = {
    ContractCertificateStatus.VALID: "Accepted",
    ContractCertificateStatus.REVOKED: "CertificateRevoked",
    ContractCertificateStatus.EXPIRED: "CertificateExpired",
    ContractCertificateStatus.CANCELLED: "ContractCancelled",
    UNKNOWN: "CertChainError",
}


async def contract_authorized(answer: dict, payload: dict) -> dict:
    """Add certificateStatus to an Authorize answer; a contract not Accepted is Invalid.

    A token refused on its own (Blocked, Expired...) keeps saying why.
    """
    status = await database_sync_to_async(contract_certificate_status)(
        emaid=payload["idToken"]["idToken"],
        certificates=[
            (data["issuerNameHash"], data["issuerKeyHash"], data["serialNumber"])
            for data in payload["iso15118CertificateHashData"]
        ],
    )
    certificate_status = CERTIFICATE_STATUS[status]
    id_token_info = answer["idTokenInfo"]
    if certificate_status != "Accepted" and id_token_info["status"] == "Accepted":
        id_token_info = {**id_token_info, "status": "Invalid"}
    return {**answer, "idTokenInfo": id_token_info, "certificateStatus": certificate_status}

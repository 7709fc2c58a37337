"""Plug & Charge contract certificates: which of a driver's contracts a vehicle presents."""

from __future__ import annotations

from collections.abc import Iterable

from .models import ContractCertificate

UNKNOWN = "unknown"


def contract_certificate_status(*, emaid: str, certificates: Iterable[tuple[str, str, str]]) -> str:
    """The status of the presented certificate of that eMAID, or UNKNOWN.

    `certificates` are (issuer name hash, issuer key hash, serial number) of
    the vehicle's chain, leaf first; the contract is the first one we know.
    A certificate of another eMAID is not this contract: UNKNOWN.
    """
    for issuer_name_hash, issuer_key_hash, serial_number in certificates:
        contract = ContractCertificate.objects.filter(
            issuer_name_hash=issuer_name_hash.strip().lower(),
            issuer_key_hash=issuer_key_hash.strip().lower(),
            serial_number=serial_number.strip().lower(),
        ).first()
        if contract is not None:
            return contract.status if contract.emaid.lower() == emaid.lower() else UNKNOWN
    return UNKNOWN

"""Signing charge point certificates (SignCertificate → CertificateSigned).

The built-in signer is a CA whose certificate and key files the settings
name (OCPP_CA_CERT_FILE, OCPP_CA_KEY_FILE). OCPP_CERTIFICATE_SIGNER may name
another callable `sign(*, csr_pem, charge_point_id) -> chain_pem` (e.g. one
calling an external PKI).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.utils.module_loading import import_string


class CertificateRequestRefused(Exception):
    """The CSR is not acceptable, or no signer is configured."""


def certificate_signing_available() -> bool:
    return bool(settings.OCPP_CERTIFICATE_SIGNER) or bool(
        settings.OCPP_CA_CERT_FILE and settings.OCPP_CA_KEY_FILE
    )


def certificate_request_check(
    *, csr_pem: str, charge_point_id: str
) -> x509.CertificateSigningRequest:
    """Refuse a CSR that is malformed, badly signed, or for another charge point."""
    if not certificate_signing_available():
        raise CertificateRequestRefused("no certificate signer is configured")
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
    except ValueError as exc:
        raise CertificateRequestRefused(f"not a PEM certificate signing request: {exc}") from exc
    if not csr.is_signature_valid:
        raise CertificateRequestRefused("the request's signature is invalid")
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if [n.value for n in names] != [charge_point_id]:
        raise CertificateRequestRefused("the common name must be the charge point id")
    return csr


def certificate_sign(*, csr_pem: str, charge_point_id: str) -> str:
    """Return the PEM chain (certificate, then CA) for an acceptable CSR."""
    certificate_request_check(csr_pem=csr_pem, charge_point_id=charge_point_id)
    if settings.OCPP_CERTIFICATE_SIGNER:
        signer = import_string(settings.OCPP_CERTIFICATE_SIGNER)
        return signer(csr_pem=csr_pem, charge_point_id=charge_point_id)
    return _builtin_sign(csr_pem=csr_pem)


@cache
def _ca(cert_file: str, key_file: str):
    ca_cert = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
    ca_key = serialization.load_pem_private_key(Path(key_file).read_bytes(), password=None)
    return ca_cert, ca_key


def _builtin_sign(*, csr_pem: str) -> str:
    ca_cert, ca_key = _ca(settings.OCPP_CA_CERT_FILE, settings.OCPP_CA_KEY_FILE)
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca_cert.subject)
        .public_key(csr.public_key())
        .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=settings.OCPP_CERTIFICATE_VALIDITY_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return (
        certificate.public_bytes(serialization.Encoding.PEM)
        + ca_cert.public_bytes(serialization.Encoding.PEM)
    ).decode()

"""Signing charge point certificates (SignCertificate → CertificateSigned).

The built-in signer is a CA whose certificate and key files the settings
name (OCPP_CA_CERT_FILE, OCPP_CA_KEY_FILE). OCPP_CERTIFICATE_SIGNER may name
another callable `sign(*, csr_pem, charge_point_id) -> chain_pem` (e.g. one
calling an external PKI).

Two uses (OCPP 2.0.1 certificateType): the charge point's own TLS client
certificate towards the CSMS, and its ISO 15118 (V2G) certificate, the TLS
server certificate it shows electric vehicles. A V2G CSR names the charger's
SECC id, not necessarily the charge point id; the signer callable is then
called with `certificate_use="v2g"` too (so a 1.6-era signer keeps working).
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

CHARGING_STATION_USE = "charging_station"
V2G_USE = "v2g"


class CertificateRequestRefused(Exception):
    """The CSR is not acceptable, or no signer is configured."""


def certificate_signing_available() -> bool:
    return bool(settings.OCPP_CERTIFICATE_SIGNER) or bool(
        settings.OCPP_CA_CERT_FILE and settings.OCPP_CA_KEY_FILE
    )


def certificate_request_check(
    *, csr_pem: str, charge_point_id: str, certificate_use: str = CHARGING_STATION_USE
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
    names = [n.value for n in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if certificate_use == V2G_USE:
        if len(names) != 1 or not names[0]:
            raise CertificateRequestRefused("a V2G request needs one common name (the SECC id)")
    elif names != [charge_point_id]:
        raise CertificateRequestRefused("the common name must be the charge point id")
    return csr


def certificate_sign(
    *, csr_pem: str, charge_point_id: str, certificate_use: str = CHARGING_STATION_USE
) -> str:
    """Return the PEM chain (certificate, then CA) for an acceptable CSR."""
    certificate_request_check(
        csr_pem=csr_pem, charge_point_id=charge_point_id, certificate_use=certificate_use
    )
    if settings.OCPP_CERTIFICATE_SIGNER:
        signer = import_string(settings.OCPP_CERTIFICATE_SIGNER)
        extra = {"certificate_use": certificate_use} if certificate_use == V2G_USE else {}
        return signer(csr_pem=csr_pem, charge_point_id=charge_point_id, **extra)
    return _builtin_sign(csr_pem=csr_pem, certificate_use=certificate_use)


@cache
def _ca(cert_file: str, key_file: str):
    ca_cert = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
    ca_key = serialization.load_pem_private_key(Path(key_file).read_bytes(), password=None)
    return ca_cert, ca_key


def _builtin_sign(*, csr_pem: str, certificate_use: str) -> str:
    ca_cert, ca_key = _ca(settings.OCPP_CA_CERT_FILE, settings.OCPP_CA_KEY_FILE)
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    now = datetime.now(UTC)
    # The charger is a TLS client of the CSMS, but the TLS server of the vehicle (ISO 15118).
    usage = (
        ExtendedKeyUsageOID.SERVER_AUTH
        if certificate_use == V2G_USE
        else (ExtendedKeyUsageOID.CLIENT_AUTH)
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca_cert.subject)
        .public_key(csr.public_key())
        .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=settings.OCPP_CERTIFICATE_VALIDITY_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return (
        certificate.public_bytes(serialization.Encoding.PEM)
        + ca_cert.public_bytes(serialization.Encoding.PEM)
    ).decode()

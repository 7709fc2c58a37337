"""Credentials tokens: hashed when they let a partner in, encrypted when they let us out.

A token a partner presents to us (token A before registration, token C
after) is only ever compared: we keep its SHA-256 hash, like a password
of 256 random bits, so a copy of the database lets nobody call us. A token
we present to a partner (their token B) must be sent as it is, so it
cannot be hashed: it is encrypted at rest (Fernet, AES-128-CBC with an
HMAC), with keys from OCPI_TOKEN_KEYS (or derived from DJANGO_SECRET_KEY),
so a database dump without the settings does not let anyone call partners
in our name.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

# OCPI: at most 64 printable, non-whitespace ASCII characters.
TOKEN_MAX_LENGTH = 64


def token_generate() -> str:
    """A new credentials token: 256 random bits, 43 URL-safe characters."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_is_valid(token) -> bool:
    return (
        isinstance(token, str)
        and 0 < len(token) <= TOKEN_MAX_LENGTH
        and all("!" <= char <= "~" for char in token)
    )


def _fernet() -> MultiFernet:
    keys = [key.strip() for key in settings.OCPI_TOKEN_KEYS if key.strip()]
    if not keys:
        # Derived from the secret key: stable across restarts, different per installation.
        digest = hashlib.sha256(b"ocpi-token-key:" + settings.SECRET_KEY.encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key) for key in keys])


def token_encrypt(token: str) -> str:
    return _fernet().encrypt(token.encode()).decode()


class TokenUnreadable(Exception):
    """The stored token was encrypted with a key that is no longer configured."""


def token_decrypt(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise TokenUnreadable(
            "the partner's token cannot be decrypted with OCPI_TOKEN_KEYS"
        ) from exc


def authorization_header(token: str) -> str:
    """The Authorization header value OCPI 2.2.1 asks for: Token <base64(token)>."""
    return "Token " + base64.b64encode(token.encode()).decode()


def authorization_candidates(header: str | None) -> list[str]:
    """The tokens an Authorization header may carry.

    2.2.1 Base64-encodes the token; many 2.1.1 and 2.2 peers send it as it
    is. Both readings are tried (a random token is hardly ever valid Base64
    of printable text, and a wrong reading simply matches no party).
    """
    if not header:
        return []
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "token" or not value:
        return []
    candidates = [value]
    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return candidates
    decoded = decoded.rstrip("\n")  # some encoders add a newline before encoding
    if token_is_valid(decoded):
        candidates.insert(0, decoded)
    return candidates

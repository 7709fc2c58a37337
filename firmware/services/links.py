"""Signed, expiring download links for firmware images (no login: chargers have none).

The token is signed with SECRET_KEY (django.core.signing, HMAC) and carries
its own expiry, so a link works from any node and needs no row.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core import signing
from django.urls import reverse

from ..models import FirmwareImage

SALT = "firmware.download"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


class LinkInvalid(Exception):
    """Forged or garbled: 403."""


class LinkExpired(Exception):
    """Genuine but past its expiry: 410."""


def public_base_url(*, request_base: str = "") -> str:
    """CSMS_PUBLIC_URL, else the address the operator reached us at, else localhost."""
    base = settings.CSMS_PUBLIC_URL or request_base or DEFAULT_BASE_URL
    return base.rstrip("/")


def firmware_link_token(*, image_pk: int, ttl_seconds: int | None = None) -> str:
    ttl = settings.FIRMWARE_LINK_TTL_SECONDS if ttl_seconds is None else ttl_seconds
    return signing.dumps({"i": image_pk, "e": int(time.time()) + ttl}, salt=SALT)


def firmware_link_url(
    *, image: FirmwareImage, request_base: str = "", ttl_seconds: int | None = None
) -> str:
    token = firmware_link_token(image_pk=image.pk, ttl_seconds=ttl_seconds)
    path = reverse("firmware_download", kwargs={"token": token, "filename": image.filename})
    return public_base_url(request_base=request_base) + path


def firmware_link_resolve(*, token: str, filename: str) -> FirmwareImage:
    """The image a link names; LinkInvalid or LinkExpired otherwise."""
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature as exc:
        raise LinkInvalid from exc
    if not isinstance(data, dict) or "i" not in data or "e" not in data:
        raise LinkInvalid
    if time.time() > data["e"]:
        raise LinkExpired
    image = FirmwareImage.objects.filter(pk=data["i"]).first()
    if image is None or image.filename != filename:
        raise LinkInvalid
    return image

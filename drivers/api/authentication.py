"""`Authorization: Token <key>`: per-device tokens, and the DRF tokens issued before them.

Configured in REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]; the live
WebSocket channel authenticates with the same classes, passing an object
with `META["HTTP_AUTHORIZATION"]` to `authenticate()`.

The key's format tells where to look, so that every request costs one
query, as before devices: 40 hexadecimal characters is a DRF token
(`rest_framework.authtoken`: issued at sign-up without a device name, by an
operator in the console, or before devices existed), looked up as such,
then among the device tokens (a DRF token moves there when its owner lists
their devices: `adopt_legacy_tokens`); anything else is a device token,
looked up by its hash. A DRF token never expires, as before.
"""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from ..models import DeviceToken, User, device_token_hash
from ..selectors import device_token_find
from ..services import device_token_issue, device_token_touch

LEGACY_KEY = re.compile(r"[0-9a-f]{40}")
# A longer "key" is no token of ours: refused without touching the database.
MAX_KEY_LENGTH = 128


class TokenExpired(exceptions.AuthenticationFailed):
    default_detail = _("Token expired: sign in again.")
    default_code = "token_expired"


def _inactive() -> exceptions.AuthenticationFailed:
    return exceptions.AuthenticationFailed(_("User inactive or deleted."))


class DeviceTokenAuthentication(TokenAuthentication):
    """DRF's TokenAuthentication (keyword `Token`, 401 with WWW-Authenticate), by device.

    `request.auth` is the DeviceToken, or the DRF Token for a key not yet
    moved to the device tokens.
    """

    keyword = "Token"

    def authenticate_credentials(self, key: str) -> tuple[User, DeviceToken | Token]:
        if not key or len(key) > MAX_KEY_LENGTH:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if LEGACY_KEY.fullmatch(key):
            legacy = Token.objects.select_related("user").filter(key=key).first()
            if legacy is not None:
                if not legacy.user.is_active:
                    raise _inactive()
                return legacy.user, legacy
        device = device_token_find(key=key)
        if device is None or device.revoked_at is not None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        now = timezone.now()
        if not device.is_usable(now):
            raise TokenExpired()
        if not device.user.is_active:
            raise _inactive()
        device_token_touch(device=device, now=now)
        return device.user, device


def adopt_legacy_tokens(
    *, user: User, current: Token | None = None, user_agent: str = ""
) -> dict[str, DeviceToken]:
    """Move `user`'s DRF tokens into the device tokens: same key, never expiring.

    The token of the `current` request is named after its User-Agent.
    Returns the new devices by key, so that a request made with one can go
    on as that device. Concurrent calls adopt each token once.
    """
    adopted = {}
    for legacy in Token.objects.filter(user=user):
        is_current = current is not None and legacy.key == current.key
        try:
            with transaction.atomic():
                device, _key = device_token_issue(
                    user=user,
                    name=(user_agent if is_current else "") or str(_("API token")),
                    key=legacy.key,
                    expires=False,
                )
                Token.objects.filter(pk=legacy.pk).delete()
        except IntegrityError:  # adopted by a concurrent request
            device = DeviceToken.objects.filter(key_hash=device_token_hash(legacy.key)).first()
        if device is not None:
            adopted[legacy.key] = device
    return adopted

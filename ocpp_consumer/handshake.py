"""Who may open a charge point socket: security profiles 0-3 and a failure throttle.

Profile 1 needs HTTP Basic `id:password`; 2 the same over TLS; 3 TLS with a
client certificate whose common name is the charge point id. TLS is either
Daphne's own (scope scheme "wss") or a reverse proxy's, trusted only from
OCPP_TRUSTED_PROXIES: X-Forwarded-Proto, and for profile 3 the proxy's
client-certificate verification and subject headers.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict, deque
from dataclasses import dataclass

from django.conf import settings

from stations.models import BASIC_AUTH_PROFILES, ChargePoint

from .identity import basic_auth_password

# ASGI's WebSocket Denial Response extension: a server that offers it in the
# scope lets a refused handshake carry an HTTP status (401, 404) instead of 403.
DENIAL_RESPONSE_EXTENSION = "websocket.http.response"

_COMMON_NAME = re.compile(r"(?:^|[,/])\s*CN\s*=\s*((?:\\,|[^,/])+)", re.IGNORECASE)


@dataclass(frozen=True)
class ConnectionSecurity:
    tls: bool
    client_common_name: str | None


def _headers(scope: dict) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}


def source_address(scope: dict) -> str:
    client = scope.get("client") or ("", 0)
    return str(client[0])


def connection_security(scope: dict) -> ConnectionSecurity:
    headers = _headers(scope)
    from_proxy = source_address(scope) in settings.OCPP_TRUSTED_PROXIES
    tls = scope.get("scheme") == "wss" or (
        from_proxy and headers.get("x-forwarded-proto", "").lower() in ("https", "wss")
    )
    common_name = None
    if tls and from_proxy:
        verified = headers.get(settings.OCPP_CLIENT_CERT_VERIFY_HEADER.lower(), "")
        subject = headers.get(settings.OCPP_CLIENT_CERT_HEADER.lower(), "")
        match = _COMMON_NAME.search(subject)
        if verified.upper() == "SUCCESS" and match:
            common_name = match.group(1).replace("\\,", ",").strip()
    return ConnectionSecurity(tls=tls, client_common_name=common_name)


def authentication_failure(
    *, charge_point: ChargePoint | None, charge_point_id: str, scope: dict
) -> str | None:
    """Why this handshake may not connect as this charge point, or None."""
    if charge_point is None:
        return None  # unknown: auto-registration (or its refusal) decides
    profile = charge_point.security_profile
    security = connection_security(scope)
    if profile >= 2 and not security.tls:
        return f"security profile {profile} needs TLS"
    if profile == 3:
        if security.client_common_name != charge_point_id:
            return "no verified client certificate for this charge point"
        return None
    if profile in BASIC_AUTH_PROFILES or charge_point.password:
        if not charge_point.password:
            return f"security profile {profile} but no password is configured"
        password = basic_auth_password(scope, username=charge_point_id)
        if password is None:
            return "missing or malformed HTTP Basic credentials"
        if not charge_point.check_password(password):
            return "wrong password"
    return None


class FailureThrottle:
    """Refuse a source address or charge point id after repeated failed handshakes.

    Counts live in this process (each node throttles what it sees).
    """

    def __init__(self) -> None:
        self._failures: dict[tuple[str, str], deque] = defaultdict(deque)

    def _recent(self, key: tuple[str, str], now: float) -> deque:
        window = self._failures[key]
        while window and window[0] <= now - settings.OCPP_AUTH_FAILURE_WINDOW:
            window.popleft()
        if not window:
            del self._failures[key]
        return window

    def blocked(self, *, address: str, charge_point_id: str) -> bool:
        now = time.monotonic()
        limit = settings.OCPP_AUTH_FAILURE_LIMIT
        return any(
            len(self._recent(key, now)) >= limit
            for key in (("address", address), ("charge_point", charge_point_id))
        )

    def failed(self, *, address: str, charge_point_id: str) -> None:
        now = time.monotonic()
        for key in (("address", address), ("charge_point", charge_point_id)):
            self._failures[key].append(now)

    def clear(self) -> None:
        self._failures.clear()


throttle = FailureThrottle()

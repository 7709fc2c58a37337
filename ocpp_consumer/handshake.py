"""Who may open a charge point socket: security profiles 0-3 and a failure throttle.

Profile 1 needs HTTP Basic `id:password`; 2 the same over TLS; 3 TLS with a
client certificate whose common name is the charge point id. TLS is either
Daphne's own (scope scheme "wss") or a reverse proxy's, trusted only from
OCPP_TRUSTED_PROXIES: X-Forwarded-Proto, and for profile 3 the proxy's
client-certificate verification and subject headers.

The failure throttle lives in `auth_throttle`; ids are compared ignoring case
(one identity, one charge point), so a look-alike of a registered id is
refused here instead of becoming a second charge point.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from http import HTTPStatus

from django.conf import settings

from stations.models import BASIC_AUTH_PROFILES, ChargePoint

from .auth_throttle import throttle
from .identity import basic_auth_password

__all__ = [
    "DENIAL_RESPONSE_EXTENSION",
    "authentication_failure",
    "connection_security",
    "identity_collision",
    "source_address",
    "throttle",
    "websocket_deny",
]

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


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def source_address(scope: dict) -> str:
    """Who is connecting: the peer, or behind a trusted proxy the client it reports.

    Behind a proxy every charge point has the proxy's address; throttling that
    would let one guesser lock out all of them. So from OCPP_TRUSTED_PROXIES
    the nearest X-Forwarded-For hop that is not itself a trusted proxy counts
    (hops further left are the client's own claims: ignored).
    """
    client = scope.get("client") or ("", 0)
    peer = str(client[0])
    trusted = settings.OCPP_TRUSTED_PROXIES
    if peer not in trusted:
        return peer
    hops = _headers(scope).get("x-forwarded-for", "").split(",")
    for hop in reversed([hop.strip() for hop in hops if hop.strip()]):
        if hop not in trusted:
            return hop if _is_ip(hop) else peer
    return peer


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


def identity_collision(
    *, charge_point_id: str, same_identity: list[ChargePoint]
) -> tuple[ChargePoint | None, ChargePoint | None]:
    """Split the charge points whose id equals this one ignoring case.

    Returns (the charge point with exactly this id, or None; a registered one
    it only looks like, or None). `same_identity` comes from
    `chargepoint_same_identity`; more than one only for pairs stored before
    ids ignored case, each of which keeps connecting under its exact id.
    """
    exact = next((cp for cp in same_identity if cp.charge_point_id == charge_point_id), None)
    if exact is not None or not same_identity:
        return exact, None
    return None, same_identity[0]


async def websocket_deny(scope: dict, send, status: HTTPStatus) -> None:
    """Refuse a handshake with an HTTP status where the server can send one, else close (403)."""
    if DENIAL_RESPONSE_EXTENSION in scope.get("extensions", {}):
        await send({"type": f"{DENIAL_RESPONSE_EXTENSION}.start", "status": status, "headers": []})
        await send({"type": f"{DENIAL_RESPONSE_EXTENSION}.body", "body": b""})
    else:
        await send({"type": "websocket.close"})

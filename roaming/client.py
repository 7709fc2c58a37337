"""Calls to a partner's OCPI interfaces: urllib, timeouts, the journal, the envelope read.

Never called on the charging path: the handshake runs in the request of
a partner or an operator, and pushes belong in Celery tasks. A partner
that does not answer costs at most OCPI_REQUEST_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings

from .choices import Direction
from .credential_tokens import authorization_header
from .journal import exchange_record
from .models import Party

# Bodies larger than this are not read: no OCPI page is near it.
MAX_RESPONSE_BYTES = 20 * 1024 * 1024


class PartnerError(Exception):
    """The partner could not be used: no answer, no JSON, an HTTP or OCPI error."""

    def __init__(self, message: str, *, http_status: int | None = None, status_code=None):
        super().__init__(message)
        self.http_status = http_status
        self.status_code = status_code


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A partner's API answers where it is asked: a redirect is an error, not followed.

    Following one would also lead around the check of private addresses.
    """

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def _address_problem(url: str) -> str:
    """Why this URL may not be called: a host on a private network, unless allowed.

    The URLs come from partners (their credentials and endpoints): without
    this check a partner could make us call services inside our network.
    """
    if settings.OCPI_ALLOW_PRIVATE_URLS:
        return ""
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (socket.gaierror, UnicodeError):
        return f"no answer: cannot resolve {host[:100]}"
    for address in addresses:
        if not ipaddress.ip_address(address.split("%")[0]).is_global:
            return f"refused: {host[:100]} is on a private network (OCPI_ALLOW_PRIVATE_URLS)"
    return ""


@dataclass
class PartnerResponse:
    http_status: int
    status_code: int | None
    data: object
    headers: dict = field(default_factory=dict)


def ocpi_call(
    *,
    method: str,
    url: str,
    token: str,
    party: Party | None = None,
    body: dict | None = None,
    timeout: float | None = None,
) -> PartnerResponse:
    """One OCPI request to a partner; the `data` of a successful (1xxx) answer.

    Raises PartnerError for anything else. Every attempt is journalled,
    failures included. `timeout`: seconds, instead of OCPI_REQUEST_TIMEOUT_SECONDS
    (a real-time authorization must not keep a charger waiting).
    """
    if not url.lower().startswith(("https://", "http://")):
        raise PartnerError(f"not an http(s) URL: {url[:200]}")
    payload = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=payload, method=method)
    request.add_header("Authorization", authorization_header(token))
    request.add_header("Accept", "application/json")
    if payload is not None:
        request.add_header("Content-Type", "application/json")
    started = time.monotonic()
    http_status, raw, headers = None, b"", {}
    error = _address_problem(url)
    try:
        if not error:
            seconds = timeout or settings.OCPI_REQUEST_TIMEOUT_SECONDS
            with _OPENER.open(request, timeout=seconds) as answer:
                http_status, headers = answer.status, dict(answer.headers)
                raw = answer.read(MAX_RESPONSE_BYTES)
    except urllib.error.HTTPError as exc:
        http_status, headers = exc.code, dict(exc.headers or {})
        raw = exc.read(MAX_RESPONSE_BYTES) if exc.fp else b""
    except (urllib.error.URLError, OSError, ValueError) as exc:
        error = f"no answer: {getattr(exc, 'reason', exc)}"
    duration_ms = (time.monotonic() - started) * 1000
    envelope, status_code = None, None
    if not error:
        try:
            envelope = json.loads(raw) if raw else None
        except ValueError:
            error = f"HTTP {http_status}: the answer is not JSON"
        if isinstance(envelope, dict) and isinstance(envelope.get("status_code"), int):
            status_code = envelope["status_code"]
        elif not error:
            error = f"HTTP {http_status}: the answer is not an OCPI response"
    if not error and not (200 <= http_status < 300 and 1000 <= status_code < 2000):
        message = envelope.get("status_message") or ""
        error = f"HTTP {http_status}, OCPI {status_code}: {message}"[:500]
    exchange_record(
        direction=Direction.OUTGOING,
        party=party,
        method=method,
        url=url,
        http_status=http_status,
        ocpi_status_code=status_code,
        request_body=body,
        response_body=envelope if envelope is not None else raw,
        error=error,
        duration_ms=duration_ms,
    )
    if error:
        raise PartnerError(error, http_status=http_status, status_code=status_code)
    return PartnerResponse(
        http_status=http_status, status_code=status_code, data=envelope.get("data"), headers=headers
    )

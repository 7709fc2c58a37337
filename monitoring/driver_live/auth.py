"""Who opens the live channel: the REST API's own token authentication, on a handshake.

The credentials are those of the API (`Authorization: Token <key>`), checked
by the token-based classes of REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]
(those that declare an Authorization `keyword`, as DRF's TokenAuthentication
does): whatever kind of token the API accepts, the channel accepts, and a
token the API refuses (deleted, of an inactive account) is refused here too.
Session cookies are deliberately not accepted: the channel allows any Origin
(mobile apps send none), which is only safe without ambient credentials.

Where a client cannot set headers (a browser's WebSocket), `?token=<key>` is
read as `Authorization: <keyword> <key>` for each token keyword.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from django.http import HttpRequest
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework.settings import api_settings

# Longer credentials are refused unread (DRF keys are 40 characters).
MAX_CREDENTIALS_LENGTH = 512


def token_authenticators() -> list[type]:
    """The API's authentication classes that read a token from the Authorization header."""
    return [
        cls
        for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES
        if isinstance(getattr(cls, "keyword", None), str) and cls.keyword
    ]


def query_params(scope: dict) -> dict[str, str]:
    """The handshake's query string: the first value of each name."""
    raw = scope.get("query_string", b"")
    text = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
    return {name: values[0] for name, values in parse_qs(text).items() if values}


def _header(scope: dict, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def authorization_candidates(scope: dict) -> list[str]:
    """The Authorization header values to try: the header itself, else one per token keyword."""
    header = _header(scope, b"authorization").strip()
    if header:
        return [header] if len(header) <= MAX_CREDENTIALS_LENGTH else []
    token = query_params(scope).get("token", "").strip()
    if not token or len(token) > MAX_CREDENTIALS_LENGTH:
        return []
    keywords = dict.fromkeys(cls.keyword for cls in token_authenticators())
    return [f"{keyword} {token}" for keyword in keywords]


def _request(scope: dict, authorization: str) -> Request:
    """A DRF request carrying the handshake's headers (authenticators may read more than one)."""
    http = HttpRequest()
    http.method = "GET"
    http.path = http.path_info = scope.get("path", "")
    for key, value in scope.get("headers", ()):
        name = key.decode("latin-1").upper().replace("-", "_")
        if name not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            name = f"HTTP_{name}"
        http.META[name] = value.decode("latin-1")
    client = scope.get("client") or ("", 0)
    http.META["REMOTE_ADDR"] = client[0] or ""
    http.META["HTTP_AUTHORIZATION"] = authorization
    return Request(http)


def scope_authenticate(scope: dict):
    """The active user the handshake's token belongs to, or None (synchronous: it reads the DB).

    Every token class is asked; the first that accepts the credentials wins.
    A class that refuses them (AuthenticationFailed) only passes on to the next.
    """
    for authorization in authorization_candidates(scope):
        request = _request(scope, authorization)
        for cls in token_authenticators():
            try:
                result = cls().authenticate(request)
            except AuthenticationFailed:
                continue
            if result is not None and result[0] is not None and result[0].is_active:
                return result[0]
    return None

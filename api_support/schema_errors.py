"""The error answers and rate-limit headers of every operation, as reusable schema components.

A drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS
["POSTPROCESSING_HOOKS"]) adds to the generated schema:

- `components/examples`: one example of each error shape (400 field errors,
  401, 403, 404, 409, 429 throttled and locked out, 503);
- `components/responses`: the answers built from them, for reference by
  clients and by the operations (401, 429 and 503 can come from any
  operation: a bad token, a rate limit, a database that does not answer);
- `components/headers`: `X-RateLimit-Limit`, `X-RateLimit-Remaining`,
  `X-RateLimit-Reset` (on every answer) and `Retry-After` (429, 503).
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from .throttling import LIMIT_HEADER, REMAINING_HEADER, RESET_HEADER

RETRY_AFTER = "Retry-After"


def _header(description: str) -> dict:
    return {"description": description, "schema": {"type": "integer", "minimum": 0}}


def _headers() -> dict:
    return {
        LIMIT_HEADER: _header(_("Requests allowed per window (the tightest limit that applies).")),
        REMAINING_HEADER: _header(_("Requests left in the current window.")),
        RESET_HEADER: _header(
            _("Seconds until the oldest counted request leaves the window (one more is allowed).")
        ),
        RETRY_AFTER: _header(_("Seconds to wait before trying again.")),
    }


def _examples() -> dict:
    def example(summary: str, value: dict) -> dict:
        return {"summary": summary, "value": value}

    return {
        "ValidationFailed": example(
            _("400: the invalid fields (body or query parameters), each with its messages"),
            {
                "email": ["Enter a valid email address."],
                "ordering": ["Unknown field 'bogus'. Allowed: created_at, name"],
                "non_field_errors": ["Unable to log in with provided credentials."],
            },
        ),
        "NotAuthenticated": example(
            _("401: no token, or one that is unknown, revoked or expired"),
            {"detail": "Invalid token."},
        ),
        "PermissionDenied": example(
            _("403: signed in, but not allowed"),
            {"detail": "You do not have the permission for this operation."},
        ),
        "NotFound": example(
            _("404: no such object, or not the caller's to see"), {"detail": "Not found."}
        ),
        "Conflict": example(
            _("409: the state does not allow it (in use, not connected, a repeat in progress)"),
            {"detail": "It is still referred to (e.g. by transactions or invoices)."},
        ),
        "Throttled": example(
            _("429: over the rate limit; see Retry-After"),
            {"detail": "Request was throttled. Expected available in 42 seconds."},
        ),
        "LockedOut": example(
            _("429: sign-in locked after repeated failures; see Retry-After"),
            {"detail": "Too many failed sign-in attempts; try again in 840 s."},
        ),
        "ServiceUnavailable": example(
            _("503: a service the request needs is down; nothing was done, see Retry-After"),
            {"detail": "The database is unreachable or busy. Retry later."},
        ),
    }


def _ref(kind: str, name: str) -> dict:
    return {"$ref": f"#/components/{kind}/{name}"}


def _response(description: str, schema: str, examples: list[str], headers: list[str]) -> dict:
    return {
        "description": description,
        "headers": {header: _ref("headers", header) for header in headers},
        "content": {
            "application/json": {
                "schema": _ref("schemas", schema),
                "examples": {name: _ref("examples", name) for name in examples},
            }
        },
    }


RATE = [LIMIT_HEADER, REMAINING_HEADER, RESET_HEADER]
GENERIC = {"401": "NotAuthenticated", "429": "TooManyRequests", "503": "ServiceUnavailable"}


def _responses() -> dict:
    return {
        "BadRequest": _response(
            _("Invalid fields or query parameters"), "ValidationError", ["ValidationFailed"], RATE
        ),
        "NotAuthenticated": _response(
            _("Not signed in: no token, or an unknown, revoked or expired one"),
            "Error",
            ["NotAuthenticated"],
            RATE,
        ),
        "PermissionDenied": _response(_("Not allowed"), "Error", ["PermissionDenied"], RATE),
        "NotFound": _response(_("Not found"), "Error", ["NotFound"], RATE),
        "Conflict": _response(_("Conflicts with the current state"), "Error", ["Conflict"], RATE),
        "TooManyRequests": _response(
            _("Too many requests or sign-in attempts"),
            "Error",
            ["Throttled", "LockedOut"],
            [*RATE, RETRY_AFTER],
        ),
        "ServiceUnavailable": _response(
            _("A service the request needs is down"),
            "Error",
            ["ServiceUnavailable"],
            [*RATE, RETRY_AFTER],
        ),
    }


VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": (
        "Each invalid field (snake_case; a query parameter for filters) with a list of "
        "messages; errors not tied to one field are under `non_field_errors`. Nested "
        "objects nest their fields' errors the same way."
    ),
    "additionalProperties": {},
    "example": {"password": ["This password is too short."]},
}


def _is_anonymous(operation: dict) -> bool:
    security = operation.get("security")
    return security is None or {} in security or security == []


def error_components_hook(result, generator, request, public):
    """Add the shared error components; give each operation rate-limit headers, 401/429/503."""
    components = result.setdefault("components", {})
    components.setdefault("headers", {}).update(_headers())
    components.setdefault("examples", {}).update(_examples())
    components.setdefault("responses", {}).update(_responses())
    schemas = components.setdefault("schemas", {})
    if "ValidationError" in schemas:
        schemas["ValidationError"] = VALIDATION_ERROR_SCHEMA
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for code, name in GENERIC.items():
                if code == "401" and _is_anonymous(operation) and code not in responses:
                    continue
                if code == "401" or code not in responses:
                    responses[code] = _ref("responses", name)
            for code, response in responses.items():
                if "$ref" in response:
                    continue
                headers = response.setdefault("headers", {})
                for header in RATE:
                    headers.setdefault(header, _ref("headers", header))
                if code in ("429", "503"):
                    headers.setdefault(RETRY_AFTER, _ref("headers", RETRY_AFTER))
    return result

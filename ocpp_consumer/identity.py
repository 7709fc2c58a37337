"""Who is connecting: the charge point id in the URL and its credentials."""

from __future__ import annotations

import base64
import binascii
import hashlib
from urllib.parse import unquote

from stations.models import charge_point_id_is_valid


def charge_point_id_from_scope(scope: dict) -> str | None:
    """The decoded id after /ocpp/, or None when no charge point could be registered with it."""
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope.get("path", "")
    path = path.split("?", 1)[0]
    _, _, tail = path.partition("/ocpp/")
    try:
        charge_point_id = unquote(tail.rstrip("/"), errors="strict")
    except UnicodeDecodeError:
        return None
    return charge_point_id if charge_point_id_is_valid(charge_point_id) else None


def basic_auth_password(scope: dict, *, username: str) -> str | None:
    """The password of an HTTP Basic Authorization header for that username.

    The username is the charge point id, which may itself contain ':'; so
    the credentials are matched against "<id>:" rather than split at the
    first colon.
    """
    for name, value in scope.get("headers", ()):
        if name.lower() != b"authorization":
            continue
        scheme, _, encoded = value.decode("latin-1").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        prefix = f"{username}:"
        return decoded[len(prefix) :] if decoded.startswith(prefix) else None
    return None


def charge_point_group(charge_point_id: str) -> str:
    """A channel-layer group name for any id (groups allow [A-Za-z0-9-_.] only)."""
    digest = hashlib.blake2s(charge_point_id.encode(), digest_size=16).hexdigest()
    return f"ocpp.cp.{digest}"

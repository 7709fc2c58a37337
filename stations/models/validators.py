"""What a charge point id and a charge point password may be.

The model, the API, the admin and the OCPP handshake all check these same
functions: an id the operator can register is an id that can connect, and a
password the operator can set is one the charge point can sign in with.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

CHARGE_POINT_ID_MAX_LENGTH = 64
# OCPP identifierString characters, plus a few seen in the wild (space and #
# arrive percent-encoded in the URL). Length as OCPP 2.0.1 bounds it, with
# headroom. Single inner spaces only: an operator reads "CP-A ", " CP-A" and
# "CP  A" as "CP-A" and "CP A" (HTML collapses white space), so a second
# charge point with such an id would pass for the first in the console.
# Control characters are outside the set: they could forge log lines.
_CHARGE_POINT_ID_CHARACTERS = re.compile(r"[A-Za-z0-9*\-_=:+|@.#]+(?: [A-Za-z0-9*\-_=:+|@.#]+)*")

# HTTP Basic password of security profiles 1 and 2 (OCPP AuthorizationKey).
CHARGE_POINT_PASSWORD_MIN_LENGTH = 16
CHARGE_POINT_PASSWORD_MAX_LENGTH = 40
# Security profiles where the charge point signs in with HTTP Basic, that is
# with its password (profile 3 signs in with a client certificate instead).
BASIC_AUTH_PROFILES = frozenset({1, 2})


def charge_point_id_is_valid(value: str) -> bool:
    """True for an id a charge point may connect with (the decoded URL segment)."""
    return (
        len(value) <= CHARGE_POINT_ID_MAX_LENGTH
        and _CHARGE_POINT_ID_CHARACTERS.fullmatch(value) is not None
    )


def charge_point_id_canonical(value: str) -> str:
    """The id as operators compare them: "CP-A" and "cp-a" are one identity.

    Ids are ASCII (see the character set), so lower() is the database's
    LOWER() too: the case-insensitive unique constraint and the handshake's
    look-up agree with this.
    """
    return value.lower()


def validate_charge_point_id(value: str) -> None:
    if not charge_point_id_is_valid(value):
        raise ValidationError(
            _(
                "1-64 characters of A-Z a-z 0-9 * - _ = : + | @ . # and single spaces "
                "between them (none at the start or end)."
            ),
            code="invalid_charge_point_id",
        )


def validate_charge_point_password(value: str) -> None:
    length = len(value)
    if length < CHARGE_POINT_PASSWORD_MIN_LENGTH:
        raise ValidationError(
            _("Ensure this value has at least %(limit_value)d characters (it has %(show_value)d)."),
            code="min_length",
            params={"limit_value": CHARGE_POINT_PASSWORD_MIN_LENGTH, "show_value": length},
        )
    if length > CHARGE_POINT_PASSWORD_MAX_LENGTH:
        raise ValidationError(
            _("Ensure this value has at most %(limit_value)d characters (it has %(show_value)d)."),
            code="max_length",
            params={"limit_value": CHARGE_POINT_PASSWORD_MAX_LENGTH, "show_value": length},
        )


def validate_charge_point_credentials(*, security_profile: int, has_password: bool) -> None:
    """Refuse a security profile the charge point could never connect with."""
    if security_profile in BASIC_AUTH_PROFILES and not has_password:
        raise ValidationError(
            {
                "password": ValidationError(
                    _("Security profile %(profile)d needs a password."),
                    code="password_required",
                    params={"profile": security_profile},
                )
            }
        )

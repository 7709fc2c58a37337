"""What answers to 2.0.1 security commands change: the station's password (rotation).

SecurityCtrlr.BasicAuthPassword is the 2.0.1 twin of the 1.6
AuthorizationKey: once the station answers Accepted to a SetVariables that
sets it, the next connection must use it, so the stored password changes
(through the same service as the 1.6 ChangeConfiguration answer). The
device model keeps recording the SetVariables answer as before: this
applier wraps the provisioning one rather than replacing it.
"""

from __future__ import annotations

import logging
import secrets
import string

from django.core.exceptions import ValidationError

from stations.models.validators import (
    CHARGE_POINT_PASSWORD_MAX_LENGTH,
    validate_charge_point_password,
)
from stations.services.security import AUTHORIZATION_KEY, security_configuration_changed

from ..commands.actions_201 import applies_answer
from .provisioning_answers import variables_set

logger = logging.getLogger(__name__)

SECURITY_CONTROLLER = "SecurityCtrlr"
BASIC_AUTH_PASSWORD = "BasicAuthPassword"
APPLIED_STATUSES = ("Accepted", "RebootRequired")
_PASSWORD_ALPHABET = string.ascii_letters + string.digits


def basic_auth_password_generate() -> str:
    """A new password: 40 random letters and digits (OCPP 2.0.1 allows 16 to 40)."""
    return "".join(
        secrets.choice(_PASSWORD_ALPHABET) for _ in range(CHARGE_POINT_PASSWORD_MAX_LENGTH)
    )


def basic_auth_password_payload(password: str) -> dict:
    """The SetVariables request that gives a station a new BasicAuthPassword."""
    return {
        "setVariableData": [
            {
                "component": {"name": SECURITY_CONTROLLER},
                "variable": {"name": BASIC_AUTH_PASSWORD},
                "attributeValue": password,
            }
        ]
    }


def _is_basic_auth_password(data: dict) -> bool:
    return (
        data["component"]["name"] == SECURITY_CONTROLLER
        and not data["component"].get("instance")
        and data["variable"]["name"] == BASIC_AUTH_PASSWORD
        and data.get("attributeType", "Actual") == "Actual"
    )


def basic_auth_password_answered(*, charge_point_pk: int, request: dict, response: dict) -> None:
    """Store the new password when the station accepted it (a bad one is never stored)."""
    asked = [data for data in request["setVariableData"] if _is_basic_auth_password(data)]
    applied = any(
        _is_basic_auth_password(result) and result["attributeStatus"] in APPLIED_STATUSES
        for result in response["setVariableResult"]
    )
    if len(asked) != 1 or not applied:
        return
    password = asked[0]["attributeValue"]
    try:
        validate_charge_point_password(password)
    except ValidationError:
        # The station took a password we cannot store: it must be given one we can.
        logger.error("charge point %s took a BasicAuthPassword we cannot store", charge_point_pk)
        return
    security_configuration_changed(
        charge_point_pk=charge_point_pk, key=AUTHORIZATION_KEY, value=password
    )


@applies_answer("SetVariables")
def variables_set_and_password_rotated(
    *, charge_point_pk: int, request: dict, response: dict
) -> None:
    variables_set(charge_point_pk=charge_point_pk, request=request, response=response)
    basic_auth_password_answered(
        charge_point_pk=charge_point_pk, request=request, response=response
    )

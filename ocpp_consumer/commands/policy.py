"""Who may send which command: decided here and nowhere else.

Operators, and the Central System itself, may send any command. A driver
may only start and stop their own charging: a remote start with one of
their own Accepted id tags, without a charging profile, on a free connector
(Available, or Preparing: the cable is plugged in); a remote stop of their
own open transaction on that charge point. The facts come from the domain's
selectors; the rules, and reading them off the OCPP payload, are here.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.choices import AuthorizationStatus
from drivers.selectors import idtag_authorize_own
from stations.selectors import connector_startable_exists, transaction_open_owned_exists
from stations.services.transaction_events import transaction_pk_for_charger_id

REMOTE_START = "RemoteStartTransaction"
REMOTE_STOP = "RemoteStopTransaction"
# OCPP 2.0.1's remote start and stop, under the same rules.
REQUEST_START = "RequestStartTransaction"
REQUEST_STOP = "RequestStopTransaction"
DRIVER_ACTIONS = frozenset({REMOTE_START, REMOTE_STOP, REQUEST_START, REQUEST_STOP})


@dataclass(frozen=True)
class Requester:
    """Who asks for a command: an operator (user_id None: the system), or a driver."""

    user_id: int | None = None
    is_driver: bool = False


SYSTEM = Requester()


def command_action_permitted(*, requester: Requester, action: str) -> bool:
    """Whether the requester may send this kind of command at all."""
    return not requester.is_driver or action in DRIVER_ACTIONS


def command_refusal(
    *, requester: Requester, charge_point_pk: int, action: str, payload: dict
) -> str | None:
    """Why the requester may not send this command to that charge point; None: they may.

    The payload is the validated OCPP request (camelCase).
    """
    if not requester.is_driver:
        return None
    if not command_action_permitted(requester=requester, action=action):
        return "Drivers may only start and stop charging."
    if action in (REMOTE_STOP, REQUEST_STOP):
        # 1.6 names our transaction id; 2.0.1 the charger's own (a string).
        transaction_pk = payload["transactionId"]
        if action == REQUEST_STOP:
            transaction_pk = transaction_pk_for_charger_id(
                charge_point_pk=charge_point_pk, charger_transaction_id=transaction_pk
            )
        if transaction_pk is None or not transaction_open_owned_exists(
            user_id=requester.user_id,
            transaction_pk=transaction_pk,
            charge_point_pk=charge_point_pk,
        ):
            return "Not an open transaction of yours on this charge point."
        return None
    if "chargingProfile" in payload:
        return "Drivers cannot set a charging profile."
    # 1.6: idTag and connectorId; 2.0.1: idToken.idToken and evseId (the domain's connector).
    start_2_0_1 = action == REQUEST_START
    id_tag = payload["idToken"]["idToken"] if start_2_0_1 else payload["idTag"]
    authorization = idtag_authorize_own(user_id=requester.user_id, id_tag=id_tag)
    if authorization is None:
        return "Use one of your own id tags."
    if authorization.status != AuthorizationStatus.ACCEPTED:
        return f"This id tag is {authorization.status}."
    connector_id = payload.get("evseId" if start_2_0_1 else "connectorId")
    if not connector_startable_exists(charge_point_pk=charge_point_pk, connector_id=connector_id):
        return "No connector is free to start charging."
    return None

"""command_send: the one way to send a command (a CALL) to a charge point.

API views, admin actions, Celery tasks, management commands and handlers
call it (or `command_send_sync` from synchronous code). Read top to bottom:

1. the charge point, and validation, once: the action and its payload in
   the charge point's OCPP version (validation.py);
2. whether it is connected (checked here only);
3. the policy: may this requester send it there (policy.py);
4. the record, then routing to the consumer holding the socket (delivery.py);
5. the consumer sends it and applies the answer (call_queue.py, answers.py).

Nothing is recorded for a command refused in 1-3, except an operator's
command to a charge point that is not connected: it is kept as `offline`.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings

from monitoring.liveness import chargepoint_reachable
from stations.models import ChargePoint
from stations.selectors import chargepoint_get

from ..models import Command, CommandStatus
from .delivery import command_deliver
from .exceptions import ChargePointNotFound, ChargePointOffline, CommandForbidden
from .handles import REMOTE_START_ID_PENDING, remote_start_id_assign, remote_start_id_missing
from .policy import SYSTEM, Requester, command_refusal
from .records import command_record
from .validation import command_validate


async def command_send(
    *,
    charge_point_id: str,
    action: str,
    payload: dict,
    requester: Requester = SYSTEM,
    source: str = "system",
    timeout: float | None = None,
) -> Command:
    """Send a CALL and return its record once answered (status answered or failed).

    Raises UnknownAction / InvalidPayload, ChargePointNotFound,
    ChargePointOffline, CommandForbidden, CommandTimeout, or CommandsUnavailable
    (the channel layer is down: the command ended `failed`, retry later).
    """
    charge_point, command, payload = await sync_to_async(_command_admit)(
        charge_point_id=charge_point_id,
        action=action,
        payload=payload,
        requester=requester,
        source=source,
    )
    timeout = settings.OCPP_CALL_TIMEOUT if timeout is None else timeout
    return await command_deliver(
        command=command, charge_point=charge_point, payload=payload, timeout=timeout
    )


def command_send_sync(
    *,
    charge_point_id: str,
    action: str,
    payload: dict,
    requester: Requester = SYSTEM,
    source: str = "system",
    timeout: float | None = None,
) -> Command:
    """`command_send` for synchronous code (API views, admin actions, tasks).

    Steps 1-4 run here, in the caller's thread, and only the delivery goes
    to the event loop: one hand-over each way instead of the two of
    wrapping `command_send` whole (each a thread wake-up, which on a busy
    API node waits for the GIL and a core).
    """
    charge_point, command, payload = _command_admit(
        charge_point_id=charge_point_id,
        action=action,
        payload=payload,
        requester=requester,
        source=source,
    )
    timeout = settings.OCPP_CALL_TIMEOUT if timeout is None else timeout
    return async_to_sync(command_deliver)(
        command=command, charge_point=charge_point, payload=payload, timeout=timeout
    )


def _command_admit(
    *, charge_point_id: str, action: str, payload: dict, requester: Requester, source: str
) -> tuple[ChargePoint, Command, dict]:
    """Steps 1-4 in one trip to the database thread: find, validate, check, decide, record.

    Validation needs the charge point: its OCPP version says which actions
    and schemas apply. Returns the payload to send: a RequestStartTransaction
    without a remoteStartId gets the command's id (handles.py follows it).
    """
    charge_point = chargepoint_get(charge_point_id=charge_point_id)
    if charge_point is None:
        raise ChargePointNotFound(f"no charge point {charge_point_id!r}")
    # A RequestStartTransaction without remoteStartId is checked with a stand-in:
    # the command's id, sent instead, exists only once it is recorded.
    assign_remote_start_id = remote_start_id_missing(action=action, payload=payload)
    checked = (
        {**payload, "remoteStartId": REMOTE_START_ID_PENDING} if assign_remote_start_id else payload
    )
    command_validate(action=action, payload=checked, version=charge_point.ocpp_version)
    record = {
        "charge_point": charge_point,
        "action": action,
        "payload": payload,
        "requested_by_id": requester.user_id,
        "source": source,
    }
    # Before the policy: a driver's rules (a free connector) cannot be judged
    # on a charge point that is not connected, and "not connected" is the
    # answer that helps them. Their attempt is then not recorded.
    if not chargepoint_reachable(charge_point=charge_point):
        offline = None
        if not requester.is_driver:
            offline = command_record(**record, status=CommandStatus.OFFLINE)
        raise ChargePointOffline(f"{charge_point_id} is not connected", offline)
    refusal = command_refusal(
        requester=requester, charge_point_pk=charge_point.pk, action=action, payload=payload
    )
    if refusal is not None:
        raise CommandForbidden(refusal)
    command = command_record(**record)
    if assign_remote_start_id:
        payload = remote_start_id_assign(command=command, payload=payload)
    return charge_point, command, payload

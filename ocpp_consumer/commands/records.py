"""The Command rows: what was asked, by whom, and how it ended.

The caller and the consumer holding the socket both write them, on
whichever node each runs: the row, not a message, is the outcome.
"""

from __future__ import annotations

import re
from datetime import datetime

from django.utils import timezone

from stations.models import ChargePoint
from stations.services.security import REDACTED, SECRET_CONFIGURATION_KEYS

from ..models import Command, CommandStatus

# OCPP 2.0.1 secrets: network profile passwords, and variables named like one
# (SecurityCtrlr.BasicAuthPassword, keys, PINs).
_NETWORK_SECRETS = {"apn": ("apnPassword", "simPin"), "vpn": ("password", "key")}
_SECRET_VARIABLE = re.compile(r"password|key|secret|pin", re.IGNORECASE)


def configuration_redacted(*, action: str, payload: dict) -> dict:
    """The payload as it may be stored or journaled: secret configuration values masked."""
    if action == "ChangeConfiguration" and payload.get("key") in SECRET_CONFIGURATION_KEYS:
        return {**payload, "value": REDACTED}
    if action == "SetNetworkProfile" and isinstance(payload.get("connectionData"), dict):
        return {**payload, "connectionData": network_profile_redacted(payload["connectionData"])}
    if action == "SetVariables" and isinstance(payload.get("setVariableData"), list):
        return {
            **payload,
            "setVariableData": [_variable_redacted(item) for item in payload["setVariableData"]],
        }
    return payload


def network_profile_redacted(connection_data: dict) -> dict:
    """A 2.0.1 NetworkConnectionProfileType with its APN and VPN secrets masked."""
    redacted = dict(connection_data)
    for part, secrets in _NETWORK_SECRETS.items():
        if isinstance(redacted.get(part), dict):
            redacted[part] = {
                name: (REDACTED if name in secrets else value)
                for name, value in redacted[part].items()
            }
    return redacted


def _variable_redacted(item):
    variable = item.get("variable") if isinstance(item, dict) else None
    name = variable.get("name", "") if isinstance(variable, dict) else ""
    if isinstance(name, str) and _SECRET_VARIABLE.search(name) and "attributeValue" in item:
        return {**item, "attributeValue": REDACTED}
    return item


def command_record(
    *,
    charge_point: ChargePoint,
    action: str,
    payload: dict,
    requested_by_id: int | None,
    source: str,
    status: str = CommandStatus.PENDING,
) -> Command:
    return Command.objects.create(
        charge_point=charge_point,
        action=action,
        payload=configuration_redacted(action=action, payload=payload),
        requested_by_id=requested_by_id,
        source=source,
        status=status,
    )


def command_mark(*, command_id: int, status: str, **fields) -> None:
    """Record a command's progress (used by the caller and the consumer)."""
    Command.objects.filter(pk=command_id).update(status=status, **fields)


# What a command's end writes on its row, all of it: a reply carrying these
# (replies.py) spares the caller reading the row back.
OUTCOME_FIELDS = (
    "status",
    "outcome",
    "response",
    "error_code",
    "error_description",
    "unique_id",
    "sent_at",
    "answered_at",
)
_OUTCOME_TIMES = ("sent_at", "answered_at")


def command_outcome_reply(outcome: dict) -> dict:
    """The outcome as a reply may carry it (JSON), or {} when the row has more.

    Only an outcome written in one go (no `sent` written before, see
    call_queue.SENT_MARK_GRACE) holds every field: otherwise the caller reads
    the row.
    """
    if not all(name in outcome for name in ("unique_id", "sent_at", "answered_at")):
        return {}
    fields = {name: outcome.get(name, "") for name in OUTCOME_FIELDS if name not in _OUTCOME_TIMES}
    fields["response"] = outcome.get("response")
    fields.update({name: outcome[name].isoformat() for name in _OUTCOME_TIMES})
    return fields


def command_with_outcome(command: Command, reply: dict) -> Command:
    """The caller's record with the outcome its reply carried (as committed on the row)."""
    for name in OUTCOME_FIELDS:
        value = reply.get(name)
        if name in _OUTCOME_TIMES:
            value = datetime.fromisoformat(value) if value else None
        elif name != "response":
            value = value or ""
        setattr(command, name, value)
    return command


def command_mark_sent(*, command_id: int, unique_id: str, sent_at) -> None:
    """The CALL went out and its answer takes a while; never over an outcome written first."""
    Command.objects.filter(pk=command_id, status=CommandStatus.PENDING).update(
        status=CommandStatus.SENT, unique_id=unique_id, sent_at=sent_at
    )


def command_outcome_fields(*, status: str, **fields) -> dict:
    """The fields the consumer stores when a command ends.

    An answer's own status ("Accepted", "Rejected", "Unlocked", ...) is kept
    as the outcome, so the history can show and filter by it.
    """
    response = fields.get("response")
    verdict = response.get("status") if isinstance(response, dict) else None
    outcome = verdict[:32] if isinstance(verdict, str) else ""
    return {"status": status, "answered_at": timezone.now(), "outcome": outcome, **fields}


def command_mark_timed_out_if_unanswered(*, command_id: int) -> Command:
    Command.objects.filter(
        pk=command_id, status__in=[CommandStatus.PENDING, CommandStatus.SENT]
    ).update(status=CommandStatus.TIMED_OUT, error_description="no outcome within the timeout")
    return Command.objects.get(pk=command_id)


def command_mark_abandoned_by_socket(*, command_id: int, channel: str) -> bool:
    """Mark `offline` a command still pending whose socket is gone; True if so.

    Also True when the command already ended without its consumer (the
    sweep of a dead server process ends them): the row holds the outcome.
    """
    still_connected = ChargePoint.objects.filter(
        connection_channel=channel, is_online=True
    ).exists()
    if still_connected:
        return False
    marked = Command.objects.filter(pk=command_id, status=CommandStatus.PENDING).update(
        status=CommandStatus.OFFLINE,
        error_description="the charge point disconnected before the command was sent",
    )
    return bool(marked) or command_has_ended(command_id=command_id)


def command_has_ended(*, command_id: int) -> bool:
    """Whether the command has its outcome (answered, failed, timed out or offline)."""
    unfinished = [CommandStatus.PENDING, CommandStatus.SENT]
    return Command.objects.filter(pk=command_id).exclude(status__in=unfinished).exists()


# The error code of a command that could not be routed to its socket's node.
UNROUTABLE = "ChannelLayerUnreachable"


def command_mark_unroutable(*, command_id: int) -> Command:
    """End a command the channel layer could not carry: nothing reached the charge point."""
    Command.objects.filter(pk=command_id, status=CommandStatus.PENDING).update(
        status=CommandStatus.FAILED,
        error_code=UNROUTABLE,
        error_description="not sent: the channel layer (Redis) is unreachable; retry later",
        answered_at=timezone.now(),
    )
    return Command.objects.get(pk=command_id)

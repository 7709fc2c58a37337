"""How the console sends commands and tells the operator what came of them.

Every console page (the command form, quick actions, bulk actions, other
apps' admin actions) sends through `commands.command_send` as an operator
and reports with `report_outcome`: green for an accepting answer only.
"""

from __future__ import annotations

import asyncio
import json

from asgiref.sync import async_to_sync
from django.contrib import messages

from . import commands
from .admin_outcomes import message_level
from .models import Command, CommandStatus


def command_outcome_text(command: Command) -> str:
    if command.status == CommandStatus.ANSWERED:
        return f"{command.action}: {json.dumps(command.response)}"
    detail = " ".join(filter(None, [command.error_code, command.error_description]))
    return f"{command.action}: {command.get_status_display()} {detail}".strip()


def command_run(
    request, *, charge_point_id: str, action: str, payload: dict
) -> Command | commands.CommandError:
    """Send one command: its record, or the CommandError that stopped it."""
    [(_, outcome)] = async_to_sync(send_each)([(charge_point_id, action, payload)], request.user.pk)
    return outcome


async def send_each(jobs, user_id):
    """Send (charge_point_id, action, payload) jobs concurrently; pair ids with outcomes.

    The console is for operators: `user_id` sends as one.
    """
    requester = commands.Requester(user_id=user_id)

    async def one(charge_point_id, action, payload):
        try:
            return charge_point_id, await commands.command_send(
                charge_point_id=charge_point_id,
                action=action,
                payload=payload,
                requester=requester,
                source="admin",
            )
        except commands.CommandError as exc:
            return charge_point_id, exc

    return await asyncio.gather(*(one(*job) for job in jobs))


def report_outcome(request, charge_point_id: str, outcome) -> None:
    """An admin message for a command's record, or for the error that stopped it.

    Green (success) only when the answer's status is an accepting one
    (admin_outcomes.ACCEPTING); a Rejected or UnlockFailed answer, a
    CALLERROR, a timeout are amber; a command that could not be sent is red.
    """
    if isinstance(outcome, Exception):
        messages.error(request, f"{charge_point_id}: {outcome}")
        return
    messages.add_message(
        request, message_level(outcome), f"{charge_point_id}: {command_outcome_text(outcome)}"
    )

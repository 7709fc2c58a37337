"""Tell a connected charge point that an operator changed its registration.

The decision itself is the domain's (`stations.services.registration`);
this is what only the command path can do after it, for a charge point that
is connected now:

1. REGISTRATION_EVENT to the consumer holding the socket, on any node: it
   re-reads the registration at once, so that a charge point rejected (or
   put back to Pending) while accepted has its next messages refused. Best
   effort: without a channel layer the domain still refuses its id tags and
   sessions, and its next BootNotification is answered with the decision.
2. A TriggerMessage(BootNotification) through `command_send`: the charge
   point boots now and learns the decision from the answer, instead of after
   its retry interval (a Pending charge point may wait long).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer

from stations.selectors import chargepoint_get

from ..models import Command
from .exceptions import CommandError
from .policy import SYSTEM, Requester
from .send import command_send

logger = logging.getLogger(__name__)

# The channel-layer message type the consumer answers with `ocpp_registration`
# (part of the cluster's protocol, like delivery.COMMAND_EVENT).
REGISTRATION_EVENT = "ocpp.registration"
# The decision is recorded whatever happens; an operator waits at most this
# long for the charge point to agree to boot again.
BOOT_TRIGGER_TIMEOUT = 10.0


@dataclass(frozen=True)
class RegistrationNotice:
    """What telling the charge point achieved (None: it is not connected)."""

    trigger: Command | None = None
    error: CommandError | None = None


async def registration_changed(
    *, charge_point_id: str, requester: Requester = SYSTEM, source: str = "system"
) -> RegistrationNotice | None:
    """Refresh the consumer's copy of the registration and ask the charge point to boot.

    Returns None when the charge point is not connected (it learns the
    decision when it boots), else the trigger's record or the CommandError
    that stopped it.
    """
    charge_point = await sync_to_async(chargepoint_get)(charge_point_id=charge_point_id)
    if charge_point is None or not (charge_point.is_online and charge_point.connection_channel):
        return None
    try:
        await get_channel_layer().send(
            charge_point.connection_channel, {"type": REGISTRATION_EVENT}
        )
    except Exception:  # the domain's own checks still hold
        logger.warning("could not tell %s's consumer of its registration", charge_point_id)
    try:
        trigger = await command_send(
            charge_point_id=charge_point_id,
            action="TriggerMessage",
            payload={"requestedMessage": "BootNotification"},
            requester=requester,
            source=source,
            timeout=BOOT_TRIGGER_TIMEOUT,
        )
    except CommandError as exc:
        return RegistrationNotice(trigger=exc.command, error=exc)
    return RegistrationNotice(trigger=trigger)


registration_changed_sync = async_to_sync(registration_changed)


async def registrations_changed(
    *, charge_point_ids: list[str], requester: Requester = SYSTEM, source: str = "system"
) -> list[tuple[str, RegistrationNotice | None]]:
    """registration_changed for many charge points at once (an operator's bulk decision)."""

    async def one(charge_point_id: str):
        notice = await registration_changed(
            charge_point_id=charge_point_id, requester=requester, source=source
        )
        return charge_point_id, notice

    return list(await asyncio.gather(*(one(cp) for cp in charge_point_ids)))


registrations_changed_sync = async_to_sync(registrations_changed)

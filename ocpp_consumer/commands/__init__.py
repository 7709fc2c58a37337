"""Commands from the Central System to charge points (OCPP CALLs), end to end.

The path of a command, in the order it runs:

- validation.py: a Central System action, its OCPP schema, the domain's
  charging profile rules (once; InvalidPayload names the field);
- send.py `command_send`: finds the charge point, checks once that it is
  connected, asks the policy, records the Command;
- policy.py: who may send what (operators anything, drivers only their own
  remote start and stop);
- delivery.py: through the channel layer to the consumer holding the socket,
  on any node, and waits for the outcome (deadline, timeout, offline);
- ocpp_consumer.call_queue: that consumer sends one CALL at a time and
  records the outcome;
- answers.py: the table that turns an answer into a call of the domain
  service owning the state.
"""

from .exceptions import (
    ChargePointNotFound,
    ChargePointOffline,
    CommandError,
    CommandForbidden,
    CommandsUnavailable,
    CommandTimeout,
    InvalidPayload,
    UnknownAction,
)
from .policy import SYSTEM, Requester
from .send import command_send, command_send_sync
from .validation import CS_TO_CP_ACTIONS, command_validate

__all__ = [
    "CS_TO_CP_ACTIONS",
    "SYSTEM",
    "ChargePointNotFound",
    "ChargePointOffline",
    "CommandError",
    "CommandForbidden",
    "CommandTimeout",
    "CommandsUnavailable",
    "InvalidPayload",
    "Requester",
    "UnknownAction",
    "command_send",
    "command_send_sync",
    "command_validate",
]

"""Why a command was not carried out: each step of the path raises its own."""

from __future__ import annotations

from ..models import Command


class CommandError(Exception):
    """A command could not be carried out; `command` holds its record (if any)."""

    def __init__(self, message: str, command: Command | None = None):
        super().__init__(message)
        self.command = command


class UnknownAction(CommandError):
    """Not a command a Central System sends (validation)."""


class InvalidPayload(CommandError):
    """The payload breaks the action's schema or a rule of the domain (validation).

    The message reads "<field path>: <problem>", the path in the API's snake_case.
    """


class ChargePointNotFound(CommandError):
    pass


class CommandForbidden(CommandError):
    """The requester may not send this command (policy); nothing is recorded."""


class ChargePointOffline(CommandError):
    """Not connected, or the socket closed before the charge point answered."""


class CommandTimeout(CommandError):
    pass


class CommandsUnavailable(CommandError):
    """The channel layer is unreachable: no command can reach a socket now (retry later)."""

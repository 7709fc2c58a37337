"""The CALLs an OCPP 2.0.1 charging station sends, by action."""

from __future__ import annotations

from collections.abc import Callable

from ocpp.v201.enums import Action

from ..handlers import Handler

HANDLERS: dict[str, Handler] = {}


def handles(action: Action) -> Callable[[Handler], Handler]:
    """Register a handler: `async def h(session, payload) -> dict` (payload schema-valid)."""

    def register(handler: Handler) -> Handler:
        HANDLERS[action.value] = handler
        return handler

    return register

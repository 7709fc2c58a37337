"""What a CSMS sends an OCPP 2.0.1 charging station, and what its answers change.

`CSMS_ACTIONS` are the 2.0.1 actions the command path accepts (validated
against the 2.0.1 schemas); `ANSWER_APPLIERS` record the effect of an
answered command, as `commands.answers` does for 1.6. Modules add theirs
with `applies_answer`.
"""

from __future__ import annotations

from collections.abc import Callable

# Core certification profile, both directions' CSMS-initiated messages.
CSMS_ACTIONS = frozenset(
    {
        "ChangeAvailability",
        "ClearCache",
        "DataTransfer",
        "GetBaseReport",
        "GetLog",
        "GetReport",
        "GetVariables",
        "RequestStartTransaction",
        "RequestStopTransaction",
        "Reset",
        "SetNetworkProfile",
        "SetVariables",
        "TriggerMessage",
        "UnlockConnector",
        "UpdateFirmware",
    }
)

AnswerApplier = Callable[..., None]
ANSWER_APPLIERS: dict[str, AnswerApplier] = {}


def applies_answer(action: str) -> Callable[[AnswerApplier], AnswerApplier]:
    """Register `f(*, charge_point_pk, request, response)` for an answered 2.0.1 command."""

    def register(applier: AnswerApplier) -> AnswerApplier:
        ANSWER_APPLIERS[action] = applier
        return applier

    return register

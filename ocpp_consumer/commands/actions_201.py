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
        "CertificateSigned",
        "ChangeAvailability",
        "ClearCache",
        "ClearDisplayMessage",
        "ClearVariableMonitoring",
        "CostUpdated",
        "CustomerInformation",
        "DataTransfer",
        "DeleteCertificate",
        "GetBaseReport",
        "GetInstalledCertificateIds",
        "GetDisplayMessages",
        "GetLog",
        "GetMonitoringReport",
        "GetReport",
        "GetTransactionStatus",
        "GetVariables",
        "InstallCertificate",
        "PublishFirmware",
        "RequestStartTransaction",
        "RequestStopTransaction",
        "Reset",
        "SetDisplayMessage",
        "SetMonitoringBase",
        "SetMonitoringLevel",
        "SetNetworkProfile",
        "SetVariableMonitoring",
        "SetVariables",
        "TriggerMessage",
        "UnlockConnector",
        "UnpublishFirmware",
        "UpdateFirmware",
        # Smart charging (v201/smart_charging_answers.py).
        "ClearChargingProfile",
        "GetChargingProfiles",
        "GetCompositeSchedule",
        "SetChargingProfile",
        # Local authorization list management and reservation (v201/local_list_answers.py,
        # v201/reservation_answers.py).
        "CancelReservation",
        "GetLocalListVersion",
        "ReserveNow",
        "SendLocalList",
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

"""The console's command groups: what an operator looks for, security apart from resets.

Both OCPP versions share the groups; each version offers only its own
actions. An action no group names (a new one) is listed under "Other"
rather than hidden.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from ..commands.validation import command_actions

SESSIONS = "sessions"
AVAILABILITY = "availability"
CONFIGURATION = "configuration"
DIAGNOSTICS = "diagnostics"
SMART_CHARGING = "smart_charging"
SECURITY = "security"
OTHER = "other"

GROUP_LABELS = {
    SESSIONS: _("Sessions"),
    AVAILABILITY: _("Availability & reset"),
    CONFIGURATION: _("Configuration"),
    DIAGNOSTICS: _("Diagnostics & firmware"),
    SMART_CHARGING: _("Smart charging"),
    SECURITY: _("Security"),
    OTHER: _("Other"),
}

ACTION_GROUPS: dict[str, str] = {
    # Sessions: start, stop, reserve, free a stuck cable.
    "RemoteStartTransaction": SESSIONS,
    "RemoteStopTransaction": SESSIONS,
    "RequestStartTransaction": SESSIONS,
    "RequestStopTransaction": SESSIONS,
    "GetTransactionStatus": SESSIONS,
    "CostUpdated": SESSIONS,
    "ReserveNow": SESSIONS,
    "CancelReservation": SESSIONS,
    "UnlockConnector": SESSIONS,
    # Availability & reset.
    "ChangeAvailability": AVAILABILITY,
    "Reset": AVAILABILITY,
    "TriggerMessage": AVAILABILITY,
    "ExtendedTriggerMessage": AVAILABILITY,
    # Configuration: settings, authorization lists, display, customer data.
    "ChangeConfiguration": CONFIGURATION,
    "GetConfiguration": CONFIGURATION,
    "GetVariables": CONFIGURATION,
    "SetVariables": CONFIGURATION,
    "GetBaseReport": CONFIGURATION,
    "GetReport": CONFIGURATION,
    "ClearCache": CONFIGURATION,
    "SendLocalList": CONFIGURATION,
    "GetLocalListVersion": CONFIGURATION,
    "DataTransfer": CONFIGURATION,
    "SetDisplayMessage": CONFIGURATION,
    "GetDisplayMessages": CONFIGURATION,
    "ClearDisplayMessage": CONFIGURATION,
    "CustomerInformation": CONFIGURATION,
    # Diagnostics & firmware: logs, monitoring, images.
    "GetDiagnostics": DIAGNOSTICS,
    "GetLog": DIAGNOSTICS,
    "UpdateFirmware": DIAGNOSTICS,
    "SignedUpdateFirmware": DIAGNOSTICS,
    "PublishFirmware": DIAGNOSTICS,
    "UnpublishFirmware": DIAGNOSTICS,
    "SetMonitoringBase": DIAGNOSTICS,
    "SetMonitoringLevel": DIAGNOSTICS,
    "SetVariableMonitoring": DIAGNOSTICS,
    "ClearVariableMonitoring": DIAGNOSTICS,
    "GetMonitoringReport": DIAGNOSTICS,
    # Smart charging.
    "SetChargingProfile": SMART_CHARGING,
    "ClearChargingProfile": SMART_CHARGING,
    "GetCompositeSchedule": SMART_CHARGING,
    "GetChargingProfiles": SMART_CHARGING,
    # Security: certificates and where (and how) the charger connects.
    "CertificateSigned": SECURITY,
    "DeleteCertificate": SECURITY,
    "GetInstalledCertificateIds": SECURITY,
    "InstallCertificate": SECURITY,
    "SetNetworkProfile": SECURITY,
}


def action_group(action: str) -> str:
    return ACTION_GROUPS.get(action, OTHER)


def grouped_action_choices(version: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The version's actions as <optgroup>s, in GROUP_LABELS order, sorted within."""
    actions = command_actions(version)
    return [
        (label, [(action, action) for action in sorted(actions) if action_group(action) == group])
        for group, label in GROUP_LABELS.items()
        if any(action_group(action) == group for action in actions)
    ]

from django import forms
from django.utils.translation import gettext_lazy as _

from .commands.validation import command_actions
from .framing import V16, V201

# A valid example payload per action: the form starts from it (OCPP 1.6).
EXAMPLE_PAYLOADS = {
    "ChangeAvailability": {"connectorId": 0, "type": "Operative"},
    "ChangeConfiguration": {"key": "HeartbeatInterval", "value": "300"},
    "ClearCache": {},
    "DataTransfer": {"vendorId": "com.example", "messageId": "", "data": ""},
    "GetConfiguration": {},
    "RemoteStartTransaction": {"connectorId": 1, "idTag": ""},
    "RemoteStopTransaction": {"transactionId": 0},
    "Reset": {"type": "Soft"},
    "UnlockConnector": {"connectorId": 1},
    "GetDiagnostics": {"location": "ftp://user:password@host/path"},
    "UpdateFirmware": {"location": "https://host/firmware.bin", "retrieveDate": ""},
    "GetLocalListVersion": {},
    "SendLocalList": {"listVersion": 1, "updateType": "Full", "localAuthorizationList": []},
    "CancelReservation": {"reservationId": 0},
    "ReserveNow": {"connectorId": 1, "expiryDate": "", "idTag": "", "reservationId": 1},
    "ClearChargingProfile": {},
    "GetCompositeSchedule": {"connectorId": 0, "duration": 3600},
    "SetChargingProfile": {
        "connectorId": 0,
        "csChargingProfiles": {
            "chargingProfileId": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
            },
        },
    },
    "TriggerMessage": {"requestedMessage": "StatusNotification"},
    "CertificateSigned": {"certificateChain": ""},
    "DeleteCertificate": {
        "certificateHashData": {
            "hashAlgorithm": "SHA256",
            "issuerNameHash": "",
            "issuerKeyHash": "",
            "serialNumber": "",
        }
    },
    "ExtendedTriggerMessage": {"requestedMessage": "StatusNotification"},
    "GetInstalledCertificateIds": {"certificateType": "CentralSystemRootCertificate"},
    "GetLog": {"logType": "DiagnosticsLog", "requestId": 1, "log": {"remoteLocation": ""}},
    "InstallCertificate": {"certificateType": "CentralSystemRootCertificate", "certificate": ""},
    "SignedUpdateFirmware": {
        "requestId": 1,
        "firmware": {
            "location": "",
            "retrieveDateTime": "",
            "signingCertificate": "",
            "signature": "",
        },
    },
}


# The same for OCPP 2.0.1 charge points; empty strings are the operator's to fill.
EXAMPLE_PAYLOADS_201 = {
    "ChangeAvailability": {"operationalStatus": "Operative"},
    "ClearCache": {},
    "DataTransfer": {"vendorId": "com.example", "messageId": "", "data": ""},
    "GetBaseReport": {"requestId": 1, "reportBase": "ConfigurationInventory"},
    "GetLog": {"logType": "DiagnosticsLog", "requestId": 1, "log": {"remoteLocation": ""}},
    "GetReport": {"requestId": 1, "componentVariable": [{"component": {"name": ""}}]},
    "GetVariables": {
        "getVariableData": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
        ]
    },
    "RequestStartTransaction": {
        "evseId": 1,
        "remoteStartId": 1,
        "idToken": {"idToken": "", "type": "ISO14443"},
    },
    "RequestStopTransaction": {"transactionId": ""},
    "Reset": {"type": "OnIdle"},
    "SetNetworkProfile": {
        "configurationSlot": 1,
        "connectionData": {
            "ocppVersion": "OCPP20",
            "ocppTransport": "JSON",
            "ocppCsmsUrl": "wss://host/ocpp/",
            "messageTimeout": 30,
            "securityProfile": 1,
            "ocppInterface": "Wired0",
        },
    },
    "SetVariables": {
        "setVariableData": [
            {
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
                "attributeValue": "300",
            }
        ]
    },
    "TriggerMessage": {"requestedMessage": "StatusNotification", "evse": {"id": 1}},
    "UnlockConnector": {"evseId": 1, "connectorId": 1},
    "UpdateFirmware": {
        "requestId": 1,
        "firmware": {"location": "https://host/firmware.bin", "retrieveDateTime": ""},
    },
}
EXAMPLES_BY_VERSION = {V16: EXAMPLE_PAYLOADS, V201: EXAMPLE_PAYLOADS_201}


def example_payloads(version: str) -> dict[str, dict]:
    """The example payloads of the commands of that OCPP version."""
    return EXAMPLES_BY_VERSION.get(version, EXAMPLE_PAYLOADS)


class CommandForm(forms.Form):
    """Any command of the charge point's OCPP version; sending checks it against its schema."""

    action = forms.ChoiceField(label=_("action"))
    payload = forms.JSONField(
        label=_("payload (OCPP JSON)"),
        initial=dict,
        required=False,
        widget=forms.Textarea(attrs={"rows": 12, "cols": 80, "class": "vLargeTextField"}),
    )

    def __init__(self, *args, version: str = V16, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the version's actions: another version's action is not offered at all.
        self.fields["action"].choices = [(a, a) for a in sorted(command_actions(version))]

    def clean(self):
        """Only the payload's shape: sending validates it (the view shows its error here)."""
        cleaned = super().clean()
        payload = cleaned.get("payload")
        if payload is None:
            payload = cleaned["payload"] = {}
        if not isinstance(payload, dict):
            self.add_error("payload", _("The payload must be a JSON object."))
        return cleaned

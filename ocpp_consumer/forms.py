from django import forms
from django.utils.translation import gettext_lazy as _

from . import commands

# A valid example payload per action: the form starts from it.
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


class CommandForm(forms.Form):
    """Any OCPP 1.6 command; sending checks its payload against the official schema."""

    action = forms.ChoiceField(
        label=_("action"), choices=[(a, a) for a in sorted(commands.CS_TO_CP_ACTIONS)]
    )
    payload = forms.JSONField(
        label=_("payload (OCPP JSON)"),
        initial=dict,
        required=False,
        widget=forms.Textarea(attrs={"rows": 12, "cols": 80, "class": "vLargeTextField"}),
    )

    def clean(self):
        """Only the payload's shape: sending validates it (the view shows its error here)."""
        cleaned = super().clean()
        payload = cleaned.get("payload")
        if payload is None:
            payload = cleaned["payload"] = {}
        if not isinstance(payload, dict):
            self.add_error("payload", _("The payload must be a JSON object."))
        return cleaned

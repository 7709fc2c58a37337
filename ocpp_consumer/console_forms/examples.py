"""A valid starting payload per command: the typed form's initial values and
the expert mode's JSON.

Empty strings are the operator's to fill (the typed form leaves them empty).
"""

from ..framing import V16, V201

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
    "GetLocalListVersion": {},
    "SendLocalList": {"versionNumber": 1, "updateType": "Full"},
    "CancelReservation": {"reservationId": 0},
    "ReserveNow": {
        "id": 1,
        "evseId": 1,
        "expiryDateTime": "",
        "idToken": {"idToken": "", "type": "ISO14443"},
    },
}
EXAMPLE_PAYLOADS_201 |= {
    "ClearChargingProfile": {"chargingProfileId": 1},
    "GetChargingProfiles": {"requestId": 1, "chargingProfile": {}},
    "GetCompositeSchedule": {"evseId": 0, "duration": 3600},
    "SetChargingProfile": {
        "evseId": 0,
        "chargingProfile": {
            "id": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": [
                {
                    "id": 1,
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
                }
            ],
        },
    },
}
# Advanced security (certificates).
EXAMPLE_PAYLOADS_201 |= {
    "CertificateSigned": {"certificateChain": "", "certificateType": "ChargingStationCertificate"},
    "DeleteCertificate": {
        "certificateHashData": {
            "hashAlgorithm": "SHA256",
            "issuerNameHash": "",
            "issuerKeyHash": "",
            "serialNumber": "",
        }
    },
    "GetInstalledCertificateIds": {"certificateType": ["V2GRootCertificate"]},
    "InstallCertificate": {"certificateType": "V2GRootCertificate", "certificate": ""},
}
# Advanced device management and user interface (monitoring, display messages, cost).
EXAMPLE_PAYLOADS_201.update(
    {
        "GetTransactionStatus": {"transactionId": ""},
        "PublishFirmware": {
            "location": "https://firmware.example.com/image.bin",
            "checksum": "0123456789abcdef0123456789abcdef",
            "requestId": 1,
        },
        "UnpublishFirmware": {"checksum": "0123456789abcdef0123456789abcdef"},
        "ClearDisplayMessage": {"id": 1},
        "ClearVariableMonitoring": {"id": [1]},
        "CostUpdated": {"totalCost": 0.0, "transactionId": ""},
        "CustomerInformation": {
            "requestId": 1,
            "report": True,
            "clear": False,
            "customerIdentifier": "",
        },
        "GetDisplayMessages": {"requestId": 1},
        "GetMonitoringReport": {"requestId": 1},
        "SetDisplayMessage": {
            "message": {
                "id": 1,
                "priority": "NormalCycle",
                "message": {"format": "UTF8", "language": "en", "content": ""},
            }
        },
        "SetMonitoringBase": {"monitoringBase": "All"},
        "SetMonitoringLevel": {"severity": 5},
        "SetVariableMonitoring": {
            "setMonitoringData": [
                {
                    "value": 0,
                    "type": "UpperThreshold",
                    "severity": 5,
                    "component": {"name": ""},
                    "variable": {"name": ""},
                }
            ]
        },
    }
)
EXAMPLES_BY_VERSION = {V16: EXAMPLE_PAYLOADS, V201: EXAMPLE_PAYLOADS_201}


def example_payloads(version: str) -> dict[str, dict]:
    """The example payloads of the commands of that OCPP version."""
    return EXAMPLES_BY_VERSION.get(version, EXAMPLE_PAYLOADS)

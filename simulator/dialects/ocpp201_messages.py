"""The OCPP 2.0.1 payloads a simulated charge point builds (used by the dialect and its answers).

Each simulated connector is an EVSE with one connector (evseId n,
connectorId 1). Meter readings are numbers (2.0.1), with a unitOfMeasure.
"""

from __future__ import annotations

import time

from ocpp.v201.enums import IdTokenEnumType, LocationEnumType, MeasurandEnumType

from ..protocol import ocpp_now
from ..state import Connector

# Every simulated EVSE has one connector.
CONNECTOR_ID = 1


def id_token(value: str) -> dict:
    """An RFID card's IdTokenType (the simulator's drivers carry cards)."""
    return {"idToken": value, "type": IdTokenEnumType.iso14443}


def token_status(answer: dict) -> str | None:
    """The idTokenInfo status of an Authorize or TransactionEvent answer (None: none given)."""
    info = answer.get("idTokenInfo")
    return info.get("status") if isinstance(info, dict) else None


def _sample(value: float, measurand: str, unit: str, context: str) -> dict:
    return {
        "value": value,
        "context": context,
        "measurand": measurand,
        "location": LocationEnumType.outlet,
        "unitOfMeasure": {"unit": unit},
    }


def meter_value(connector: Connector, context: str, *, power: bool = True) -> dict:
    """A MeterValueType of a connector now: the register (Wh) and, with `power`, the power (W)."""
    samples = [
        _sample(
            connector.meter_wh(time.monotonic()),
            MeasurandEnumType.energy_active_import_register,
            "Wh",
            context,
        )
    ]
    if power:
        watts = round(connector.power_w) if connector.charging_since is not None else 0
        samples.append(_sample(watts, MeasurandEnumType.power_active_import, "W", context))
    return {"timestamp": ocpp_now(), "sampledValue": samples}


def transaction_event(
    connector: Connector,
    event_type: str,
    trigger: str,
    charging_state: str,
    *,
    meter: dict | None = None,
    **extra,
) -> dict:
    """The next TransactionEvent of the connector's transaction (its seqNo taken)."""
    payload = {
        "eventType": event_type,
        "timestamp": ocpp_now(),
        "triggerReason": trigger,
        "seqNo": connector.seq_no,
        "transactionInfo": {
            "transactionId": connector.transaction_id,
            "chargingState": charging_state,
        },
        "evse": {"id": connector.connector_id, "connectorId": CONNECTOR_ID},
    }
    connector.seq_no += 1
    if meter is not None:
        payload["meterValue"] = [meter]
    payload.update(extra)
    return payload

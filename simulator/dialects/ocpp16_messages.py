"""The OCPP 1.6J payloads a simulated charge point builds (used by the dialect and its answers)."""

from __future__ import annotations

import time

from ocpp.v16.enums import Location, Measurand, ReadingContext, UnitOfMeasure

from ..protocol import ocpp_now
from ..state import Connector

VENDOR = "CSMS-Simulator"
MODEL = "Simulated AC"
FIRMWARE = "sim-1.0"


def id_tag_status(answer: dict) -> str | None:
    info = answer.get("idTagInfo")
    return info.get("status") if isinstance(info, dict) else None


def meter_values_payload(connector: Connector, *, context: str = ReadingContext.sample_periodic):
    """MeterValues of a connector now: the energy register (Wh) and the power (W)."""
    charging = connector.charging_since is not None
    payload = {
        "connectorId": connector.connector_id,
        "meterValue": [
            {
                "timestamp": ocpp_now(),
                "sampledValue": [
                    _sample(
                        str(connector.meter_wh(time.monotonic())),
                        Measurand.energy_active_import_register,
                        UnitOfMeasure.wh,
                        context,
                    ),
                    _sample(
                        str(round(connector.power_w)) if charging else "0",
                        Measurand.power_active_import,
                        UnitOfMeasure.w,
                        context,
                    ),
                ],
            }
        ],
    }
    if connector.transaction_id is not None:
        payload["transactionId"] = connector.transaction_id
    return payload


def _sample(value: str, measurand: str, unit: str, context: str) -> dict:
    return {
        "value": value,
        "context": context,
        "measurand": measurand,
        "location": Location.outlet,
        "unit": unit,
    }

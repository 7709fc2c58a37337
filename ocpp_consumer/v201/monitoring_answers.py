"""OCPP 2.0.1 monitoring payloads <-> the device model's monitors, and the answers' effects.

SetVariableMonitoring, ClearVariableMonitoring, SetMonitoringBase,
SetMonitoringLevel and GetMonitoringReport answers are recorded
(registered in actions_201); `monitor_specs` reads NotifyMonitoringReport.
"""

from __future__ import annotations

from devicemodel import services

from ..commands.actions_201 import applies_answer
from .device_model import variable_key

ACCEPTED = "Accepted"


def _identity(data: dict) -> tuple:
    return (variable_key(data["component"], data["variable"]), data["type"], data["severity"])


def monitor_specs(monitoring_data: dict) -> list[services.MonitorSpec]:
    """The monitors of one MonitoringDataType (a variable and its monitors)."""
    key = variable_key(monitoring_data["component"], monitoring_data["variable"])
    return [
        services.MonitorSpec(
            key=key,
            monitor_id=monitor["id"],
            type=monitor["type"],
            value=monitor["value"],
            severity=monitor["severity"],
            transaction=monitor["transaction"],
        )
        for monitor in monitoring_data["variableMonitoring"]
    ]


@applies_answer("SetVariableMonitoring")
def monitors_set(*, charge_point_pk: int, request: dict, response: dict) -> None:
    """Pair each result with the monitor asked (by variable, type and severity)."""
    asked = {_identity(data): data for data in request["setMonitoringData"]}
    outcomes = []
    for result in response["setMonitoringResult"]:
        data = asked.get(_identity(result))
        if data is None:  # an answer for something not asked: nothing to record
            continue
        key, monitor_type, severity = _identity(result)
        outcomes.append(
            services.MonitorSetOutcome(
                spec=services.MonitorSpec(
                    key=key,
                    monitor_id=result.get("id"),
                    type=monitor_type,
                    value=data["value"],
                    severity=severity,
                    transaction=data.get("transaction", False),
                ),
                status=result["status"],
            )
        )
    services.monitors_set(charge_point_pk=charge_point_pk, outcomes=outcomes)


@applies_answer("ClearVariableMonitoring")
def monitors_cleared(*, charge_point_pk: int, request: dict, response: dict) -> None:
    services.monitors_cleared(
        charge_point_pk=charge_point_pk,
        results=[(r["id"], r["status"]) for r in response["clearMonitoringResult"]],
    )


@applies_answer("SetMonitoringBase")
def monitoring_base_set(*, charge_point_pk: int, request: dict, response: dict) -> None:
    if response["status"] == ACCEPTED:
        services.monitoring_base_set(
            charge_point_pk=charge_point_pk, monitoring_base=request["monitoringBase"]
        )


@applies_answer("SetMonitoringLevel")
def monitoring_level_set(*, charge_point_pk: int, request: dict, response: dict) -> None:
    if response["status"] == ACCEPTED:
        services.monitoring_level_set(charge_point_pk=charge_point_pk, severity=request["severity"])


@applies_answer("GetMonitoringReport")
def monitoring_report_answered(*, charge_point_pk: int, request: dict, response: dict) -> None:
    services.monitoring_report_requested(
        charge_point_pk=charge_point_pk, request_id=request["requestId"], answer=response["status"]
    )

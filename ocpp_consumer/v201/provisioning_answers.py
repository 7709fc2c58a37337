"""What the answers to 2.0.1 provisioning commands change (registered in actions_201).

Reports asked (GetBaseReport, GetReport), values read and set
(GetVariables, SetVariables), network profiles and resets: each answer is
translated into a call of the device model's services.
"""

from __future__ import annotations

from devicemodel import services
from devicemodel.choices import ReportBase

from ..commands.actions_201 import applies_answer
from ..commands.records import network_profile_redacted
from .device_model import variable_key


@applies_answer("GetBaseReport")
def base_report_answered(*, charge_point_pk: int, request: dict, response: dict) -> None:
    services.report_requested(
        charge_point_pk=charge_point_pk,
        request_id=request["requestId"],
        report_base=request["reportBase"],
        answer=response["status"],
    )


@applies_answer("GetReport")
def report_answered(*, charge_point_pk: int, request: dict, response: dict) -> None:
    services.report_requested(
        charge_point_pk=charge_point_pk,
        request_id=request["requestId"],
        report_base=ReportBase.CUSTOM,
        answer=response["status"],
    )


@applies_answer("GetVariables")
def variables_read(*, charge_point_pk: int, request: dict, response: dict) -> None:
    services.variable_values_read(
        charge_point_pk=charge_point_pk,
        values=[
            services.ReadValue(
                key=variable_key(result["component"], result["variable"]),
                value=result.get("attributeValue"),
                attribute_type=result.get("attributeType", "Actual"),
            )
            for result in response["getVariableResult"]
            if result["attributeStatus"] == "Accepted"
        ],
    )


def _identity(data: dict) -> tuple:
    return (variable_key(data["component"], data["variable"]), data.get("attributeType", "Actual"))


@applies_answer("SetVariables")
def variables_set(*, charge_point_pk: int, request: dict, response: dict) -> None:
    """Pair each result with the value asked (by component, variable and attribute type)."""
    asked = {_identity(data): data["attributeValue"] for data in request["setVariableData"]}
    outcomes = []
    for result in response["setVariableResult"]:
        key, attribute_type = _identity(result)
        value = asked.get((key, attribute_type))
        if value is None:  # an answer for something not asked: nothing to record
            continue
        outcomes.append(
            services.SetOutcome(
                key=key,
                value=value,
                status=result["attributeStatus"],
                attribute_type=attribute_type,
            )
        )
    services.variable_values_set(charge_point_pk=charge_point_pk, outcomes=outcomes)


@applies_answer("SetNetworkProfile")
def network_profile_set(*, charge_point_pk: int, request: dict, response: dict) -> None:
    services.network_profile_answered(
        charge_point_pk=charge_point_pk,
        configuration_slot=request["configurationSlot"],
        connection_data=network_profile_redacted(request["connectionData"]),
        status=response["status"],
    )


@applies_answer("Reset")
def reset_answered(*, charge_point_pk: int, request: dict, response: dict) -> None:
    services.reset_answered(
        charge_point_pk=charge_point_pk,
        reset_type=request["type"],
        evse_id=request.get("evseId"),
        status=response["status"],
    )

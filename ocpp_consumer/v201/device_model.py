"""OCPP 2.0.1 component/variable payloads <-> the device model's neutral values.

Used by the NotifyReport handler, the answer appliers, and the console and
API that build SetVariables: one translation, both directions.
"""

from __future__ import annotations

from devicemodel.services import (
    AttributeReport,
    Characteristics,
    ReportedVariable,
    VariableKey,
)

# Fields of NetworkConnectionProfileType that must never be stored or shown.


def variable_key(component: dict, variable: dict) -> VariableKey:
    """The identity of a variable named by ComponentType and VariableType."""
    evse = component.get("evse") or {}
    return VariableKey(
        component=component["name"],
        component_instance=component.get("instance", ""),
        evse_id=evse.get("id"),
        connector_id=evse.get("connectorId"),
        variable=variable["name"],
        variable_instance=variable.get("instance", ""),
    )


def component_variable(key: VariableKey) -> dict:
    """ComponentType and VariableType for a variable: {"component": ..., "variable": ...}."""
    component: dict = {"name": key.component}
    if key.component_instance:
        component["instance"] = key.component_instance
    if key.evse_id is not None:
        component["evse"] = {"id": key.evse_id}
        if key.connector_id is not None:
            component["evse"]["connectorId"] = key.connector_id
    variable: dict = {"name": key.variable}
    if key.variable_instance:
        variable["instance"] = key.variable_instance
    return {"component": component, "variable": variable}


def set_variables_payload(*, key: VariableKey, value: str, attribute_type: str = "Actual") -> dict:
    """A SetVariablesRequest setting one attribute."""
    data = {"attributeType": attribute_type, "attributeValue": value, **component_variable(key)}
    return {"setVariableData": [data]}


def reported_variable(report_data: dict) -> ReportedVariable:
    """One ReportDataType of a NotifyReport."""
    characteristics = report_data.get("variableCharacteristics")
    return ReportedVariable(
        key=variable_key(report_data["component"], report_data["variable"]),
        attributes=tuple(
            AttributeReport(
                type=attribute.get("type", "Actual"),
                value=attribute.get("value"),
                mutability=attribute.get("mutability", "ReadWrite"),
                persistent=attribute.get("persistent", False),
                constant=attribute.get("constant", False),
            )
            for attribute in report_data["variableAttribute"]
        ),
        characteristics=(
            None
            if characteristics is None
            else Characteristics(
                data_type=characteristics["dataType"],
                unit=characteristics.get("unit", ""),
                min_limit=characteristics.get("minLimit"),
                max_limit=characteristics.get("maxLimit"),
                values_list=characteristics.get("valuesList", ""),
                supports_monitoring=characteristics["supportsMonitoring"],
            )
        ),
    )

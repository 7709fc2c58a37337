"""Writes of the device model app; each function is one business operation."""

from .boots import station_boot_record
from .records import network_profile_answered, reset_answered
from .reports import (
    report_part_record,
    report_requested,
    report_reservation_release,
    report_reserve,
)
from .variables import (
    AttributeReport,
    Characteristics,
    ReadValue,
    ReportedVariable,
    SetOutcome,
    VariableKey,
    variable_values_read,
    variable_values_set,
    variables_report,
)

__all__ = [
    "AttributeReport",
    "Characteristics",
    "ReadValue",
    "ReportedVariable",
    "SetOutcome",
    "VariableKey",
    "network_profile_answered",
    "report_part_record",
    "report_requested",
    "report_reservation_release",
    "report_reserve",
    "reset_answered",
    "station_boot_record",
    "variable_values_read",
    "variable_values_set",
    "variables_report",
]

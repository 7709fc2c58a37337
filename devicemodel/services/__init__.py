"""Writes of the device model app; each function is one business operation."""

from .boots import station_boot_record
from .events import EventData, device_events_close, device_events_record
from .messages import (
    MessageInfo,
    customer_information_part_record,
    customer_information_requested,
    display_message_cleared,
    display_message_set,
    display_messages_report,
)
from .monitoring import (
    MonitorSetOutcome,
    MonitorSpec,
    monitoring_base_set,
    monitoring_level_set,
    monitoring_report_part_record,
    monitoring_report_requested,
    monitors_cleared,
    monitors_set,
)
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
    "EventData",
    "MessageInfo",
    "MonitorSetOutcome",
    "MonitorSpec",
    "customer_information_part_record",
    "customer_information_requested",
    "device_events_close",
    "device_events_record",
    "display_message_cleared",
    "display_message_set",
    "display_messages_report",
    "monitoring_base_set",
    "monitoring_level_set",
    "monitoring_report_part_record",
    "monitoring_report_requested",
    "monitors_cleared",
    "monitors_set",
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

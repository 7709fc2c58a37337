"""Writes of the stations app; each function is one business operation."""

from .charge_points import (
    BootInfo,
    ChargePointUnknown,
    ConnectorLimitExceeded,
    Presence,
    chargepoint_boot,
    chargepoint_connect,
    chargepoint_create,
    chargepoint_diagnostics_status,
    chargepoint_disconnect,
    chargepoint_firmware_status,
    chargepoint_heartbeat,
    chargepoint_heartbeat_interval,
    chargepoint_registration_answer,
    chargepoint_touch,
    chargepoints_presence_record,
    connector_status_update,
)
from .data_transfer import data_transfer_handler, datatransfer_receive
from .meter_values import metervalues_record, metervalues_record_many
from .security import chargepoint_log_status, security_event_record
from .transactions import transaction_start, transaction_stop

__all__ = [
    "chargepoint_log_status",
    "security_event_record",
    "BootInfo",
    "ChargePointUnknown",
    "ConnectorLimitExceeded",
    "data_transfer_handler",
    "chargepoint_boot",
    "chargepoint_connect",
    "chargepoint_create",
    "chargepoint_diagnostics_status",
    "chargepoint_firmware_status",
    "chargepoint_disconnect",
    "chargepoint_heartbeat",
    "chargepoint_heartbeat_interval",
    "chargepoint_registration_answer",
    "chargepoint_touch",
    "chargepoints_presence_record",
    "Presence",
    "connector_status_update",
    "datatransfer_receive",
    "metervalues_record",
    "metervalues_record_many",
    "transaction_start",
    "transaction_stop",
]

"""Models of the stations app, one module per area."""

from .charge_points import (
    CHARGE_POINT_KEY_HASHER,
    ChargePoint,
    CompatibilityProfile,
    ConfigurationKey,
    Connector,
    ConnectorStatusLog,
    DataTransferRecord,
    Station,
)
from .reservations import Reservation, ReservationStatus
from .security import CRITICAL_EVENT_TYPES, SecurityEvent, SecurityEventOrigin
from .smart_charging import ChargingProfile, ChargingSchedulePeriod, CompositeSchedule
from .transactions import MeterValue, OrphanStopTransaction, Transaction

__all__ = [
    "CRITICAL_EVENT_TYPES",
    "SecurityEvent",
    "SecurityEventOrigin",
    "CHARGE_POINT_KEY_HASHER",
    "ChargePoint",
    "ChargingProfile",
    "ChargingSchedulePeriod",
    "CompositeSchedule",
    "CompatibilityProfile",
    "ConfigurationKey",
    "Connector",
    "ConnectorStatusLog",
    "DataTransferRecord",
    "MeterValue",
    "OrphanStopTransaction",
    "Reservation",
    "ReservationStatus",
    "Station",
    "Transaction",
]

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
from .meter_rollups import MeterValueRollup, SessionMeterRollup
from .reservations import Reservation, ReservationStatus
from .security import CRITICAL_EVENT_TYPES, SecurityEvent, SecurityEventOrigin
from .smart_charging import (
    ChargingProfile,
    ChargingSchedulePeriod,
    CompositeSchedule,
    EVChargingNeeds,
    ExternalChargingLimit,
)
from .transaction_events import ID_TOKEN_MAX_LENGTH, TransactionEventLog, TransactionEventType
from .transactions import MeterValue, OrphanStopTransaction, Transaction
from .validators import (
    BASIC_AUTH_PROFILES,
    CHARGE_POINT_PASSWORD_MAX_LENGTH,
    CHARGE_POINT_PASSWORD_MIN_LENGTH,
    charge_point_id_is_valid,
    validate_charge_point_credentials,
    validate_charge_point_id,
    validate_charge_point_password,
)

__all__ = [
    "BASIC_AUTH_PROFILES",
    "validate_charge_point_credentials",
    "CHARGE_POINT_PASSWORD_MAX_LENGTH",
    "CHARGE_POINT_PASSWORD_MIN_LENGTH",
    "charge_point_id_is_valid",
    "validate_charge_point_id",
    "validate_charge_point_password",
    "CRITICAL_EVENT_TYPES",
    "SecurityEvent",
    "SecurityEventOrigin",
    "CHARGE_POINT_KEY_HASHER",
    "ChargePoint",
    "ChargingProfile",
    "ChargingSchedulePeriod",
    "CompositeSchedule",
    "EVChargingNeeds",
    "ExternalChargingLimit",
    "CompatibilityProfile",
    "ConfigurationKey",
    "Connector",
    "ConnectorStatusLog",
    "DataTransferRecord",
    "MeterValue",
    "MeterValueRollup",
    "SessionMeterRollup",
    "OrphanStopTransaction",
    "Reservation",
    "ReservationStatus",
    "Station",
    "Transaction",
    "ID_TOKEN_MAX_LENGTH",
    "TransactionEventLog",
    "TransactionEventType",
]

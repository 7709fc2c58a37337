"""Stored enumerations: OCPP 1.6's (values are the wire spellings) and our own."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class OcppVersion(models.TextChoices):
    """The OCPP version a charge point speaks (negotiated at the handshake)."""

    V16 = "1.6", "OCPP 1.6J"
    V201 = "2.0.1", "OCPP 2.0.1"


class RegistrationStatus(models.TextChoices):
    ACCEPTED = "Accepted", _("Accepted")
    PENDING = "Pending", _("Pending")
    REJECTED = "Rejected", _("Rejected")


class ConnectorStatus(models.TextChoices):
    AVAILABLE = "Available", _("Available")
    PREPARING = "Preparing", _("Preparing")
    CHARGING = "Charging", _("Charging")
    SUSPENDED_EVSE = "SuspendedEVSE", _("Suspended by EVSE")
    SUSPENDED_EV = "SuspendedEV", _("Suspended by EV")
    FINISHING = "Finishing", _("Finishing")
    RESERVED = "Reserved", _("Reserved")
    UNAVAILABLE = "Unavailable", _("Unavailable")
    FAULTED = "Faulted", _("Faulted")


class ChargePointErrorCode(models.TextChoices):
    CONNECTOR_LOCK_FAILURE = "ConnectorLockFailure", _("Connector lock failure")
    EV_COMMUNICATION_ERROR = "EVCommunicationError", _("EV communication error")
    GROUND_FAILURE = "GroundFailure", _("Ground failure")
    HIGH_TEMPERATURE = "HighTemperature", _("High temperature")
    INTERNAL_ERROR = "InternalError", _("Internal error")
    LOCAL_LIST_CONFLICT = "LocalListConflict", _("Local list conflict")
    NO_ERROR = "NoError", _("No error")
    OTHER_ERROR = "OtherError", _("Other error")
    OVER_CURRENT_FAILURE = "OverCurrentFailure", _("Over current failure")
    OVER_VOLTAGE = "OverVoltage", _("Over voltage")
    POWER_METER_FAILURE = "PowerMeterFailure", _("Power meter failure")
    POWER_SWITCH_FAILURE = "PowerSwitchFailure", _("Power switch failure")
    READER_FAILURE = "ReaderFailure", _("Reader failure")
    RESET_FAILURE = "ResetFailure", _("Reset failure")
    UNDER_VOLTAGE = "UnderVoltage", _("Under voltage")
    WEAK_SIGNAL = "WeakSignal", _("Weak signal")


class StopReason(models.TextChoices):
    EMERGENCY_STOP = "EmergencyStop", _("Emergency stop")
    EV_DISCONNECTED = "EVDisconnected", _("EV disconnected")
    HARD_RESET = "HardReset", _("Hard reset")
    LOCAL = "Local", _("Local")
    OTHER = "Other", _("Other")
    POWER_LOSS = "PowerLoss", _("Power loss")
    REBOOT = "Reboot", _("Reboot")
    REMOTE = "Remote", _("Remote")
    SOFT_RESET = "SoftReset", _("Soft reset")
    UNLOCK_COMMAND = "UnlockCommand", _("Unlock command")
    DE_AUTHORIZED = "DeAuthorized", _("De-authorized")


class EnergySource(models.TextChoices):
    """Where a finished transaction's energy figure came from."""

    METER_STOP = "meter_stop", _("meterStop minus meterStart")
    METER_VALUES = "meter_values", _("Energy.Active.Import.Register meter values")
    NONE = "none", _("no usable reading")


class SessionStatus(models.TextChoices):
    """Where a session is in its life; only RUNNING counts as charging now."""

    RUNNING = "running", _("Running")
    ENDED = "ended", _("Ended")
    # The start was answered with a refused idTagInfo (Invalid, Blocked,
    # Expired, ConcurrentTx): the charger got a transactionId and may still
    # send a stop, but the session never runs, blocks a tag or is billed.
    REFUSED = "refused", _("Refused at start")
    # A new start on the same connector ended it (the charger lost its stop).
    SUPERSEDED = "superseded", _("Superseded by a new start")


class DisputeResolution(models.TextChoices):
    """An operator's decision on a disputed session."""

    ACCEPTED = "accepted", _("Accepted as recorded")
    CORRECTED = "corrected", _("Corrected")
    VOIDED = "voided", _("Voided (never billed)")

"""Stored enumerations of the device model (values are the OCPP 2.0.1 spellings)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class BootReason(models.TextChoices):
    APPLICATION_RESET = "ApplicationReset", _("Application reset")
    FIRMWARE_UPDATE = "FirmwareUpdate", _("Firmware update")
    LOCAL_RESET = "LocalReset", _("Local reset")
    POWER_UP = "PowerUp", _("Power up")
    REMOTE_RESET = "RemoteReset", _("Remote reset")
    SCHEDULED_RESET = "ScheduledReset", _("Scheduled reset")
    TRIGGERED = "Triggered", _("Triggered")
    UNKNOWN = "Unknown", _("Unknown")
    WATCHDOG = "Watchdog", _("Watchdog")


class AttributeType(models.TextChoices):
    ACTUAL = "Actual", _("Actual")
    TARGET = "Target", _("Target")
    MIN_SET = "MinSet", _("Minimum set")
    MAX_SET = "MaxSet", _("Maximum set")


class Mutability(models.TextChoices):
    READ_ONLY = "ReadOnly", _("Read-only")
    WRITE_ONLY = "WriteOnly", _("Write-only")
    READ_WRITE = "ReadWrite", _("Read-write")


class DataType(models.TextChoices):
    STRING = "string", _("string")
    DECIMAL = "decimal", _("decimal")
    INTEGER = "integer", _("integer")
    DATE_TIME = "dateTime", _("date and time")
    BOOLEAN = "boolean", _("boolean")
    OPTION_LIST = "OptionList", _("one of a list")
    SEQUENCE_LIST = "SequenceList", _("ordered list")
    MEMBER_LIST = "MemberList", _("set of list members")


class ReportBase(models.TextChoices):
    CONFIGURATION_INVENTORY = "ConfigurationInventory", _("Configuration inventory")
    FULL_INVENTORY = "FullInventory", _("Full inventory")
    SUMMARY_INVENTORY = "SummaryInventory", _("Summary inventory")
    # GetReport: the components and variables named in its criteria.
    CUSTOM = "Custom", _("Custom (GetReport)")


class ReportStatus(models.TextChoices):
    """Where a requested report is: the charge point's answer, then its parts."""

    REQUESTED = "Requested", _("Requested")
    ACCEPTED = "Accepted", _("Accepted: parts to come")
    RECEIVING = "Receiving", _("Receiving parts")
    COMPLETE = "Complete", _("Complete")
    REJECTED = "Rejected", _("Rejected")
    NOT_SUPPORTED = "NotSupported", _("Not supported")
    EMPTY_RESULT_SET = "EmptyResultSet", _("Nothing matched")


class SetStatus(models.TextChoices):
    """The answer to the last SetVariables of an attribute."""

    ACCEPTED = "Accepted", _("Accepted")
    REJECTED = "Rejected", _("Rejected")
    UNKNOWN_COMPONENT = "UnknownComponent", _("Unknown component")
    UNKNOWN_VARIABLE = "UnknownVariable", _("Unknown variable")
    NOT_SUPPORTED_ATTRIBUTE_TYPE = "NotSupportedAttributeType", _("Attribute type not supported")
    REBOOT_REQUIRED = "RebootRequired", _("Accepted: applies after a reboot")


class ResetType(models.TextChoices):
    IMMEDIATE = "Immediate", _("Immediate")
    ON_IDLE = "OnIdle", _("When idle")

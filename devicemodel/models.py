"""The device model of OCPP 2.0.1 charge points, their boots and the reports asked of them.

A variable is identified per charge point by its component (name, instance,
EVSE, connector) and its own name and instance; each of its attributes
(Actual, Target, MinSet, MaxSet) is one row, since each has its own value
and mutability. What the charger reports is read-only here: an operator
changes a value by sending SetVariables, and the stored value follows the
charger's answer.
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from stations.models import ChargePoint

from .choices import (
    AttributeType,
    BootReason,
    DataType,
    Mutability,
    ReportBase,
    ReportStatus,
    ResetType,
    SetStatus,
)
from .validators import variable_value_problems


class BootRecord(models.Model):
    """One BootNotification: why the charge point (re)started, and how it was answered."""

    charge_point = models.ForeignKey(
        ChargePoint, on_delete=models.CASCADE, related_name="boots", verbose_name=_("charge point")
    )
    reason = models.CharField(_("reason"), max_length=20, choices=BootReason.choices)
    firmware_version = models.CharField(_("firmware version"), max_length=50, blank=True)
    registration_status = models.CharField(
        _("answered"), max_length=16, help_text=_("The registration status it was answered with.")
    )
    booted_at = models.DateTimeField(_("booted at"), auto_now_add=True)

    class Meta:
        verbose_name = _("boot")
        verbose_name_plural = _("boots")
        ordering = ["-booted_at", "-id"]
        indexes = [models.Index(fields=["charge_point", "-booted_at"], name="bootrecord_cp_idx")]

    def __str__(self):
        return f"{self.charge_point} {self.reason}"


class DeviceReport(models.Model):
    """A report asked of a charge point (GetBaseReport, GetReport) and its NotifyReport parts.

    The requestId is ours to choose, unique per charge point
    (`selectors.report_request_id_next`); the parts (seqNo 0, 1, ...) are
    counted until the one without `tbc` completes the report.
    """

    charge_point = models.ForeignKey(
        ChargePoint,
        on_delete=models.CASCADE,
        related_name="device_reports",
        verbose_name=_("charge point"),
    )
    request_id = models.IntegerField(_("request id"))
    report_base = models.CharField(
        _("report"),
        max_length=24,
        choices=ReportBase.choices,
        blank=True,
        help_text=_("Blank: a report the charge point sent without our request on record."),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=ReportStatus.choices, default=ReportStatus.REQUESTED
    )
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    parts_received = models.PositiveIntegerField(_("parts received"), default=0)
    last_seq_no = models.IntegerField(_("last part number"), null=True, blank=True)
    variables_reported = models.PositiveIntegerField(_("variables reported"), default=0)
    generated_at = models.DateTimeField(
        _("generated at"), null=True, blank=True, help_text=_("Of the latest part (charger time).")
    )
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("device report")
        verbose_name_plural = _("device reports")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["charge_point", "request_id"], name="devicereport_cp_request_unique"
            )
        ]

    def __str__(self):
        return f"{self.charge_point} #{self.request_id}"

    @property
    def missing_parts(self) -> int:
        """Parts numbered below the last one that never arrived."""
        if self.last_seq_no is None:
            return 0
        return max(0, self.last_seq_no + 1 - self.parts_received)


class DeviceVariable(models.Model):
    """A variable of a component of a charge point, with its characteristics."""

    charge_point = models.ForeignKey(
        ChargePoint,
        on_delete=models.CASCADE,
        related_name="device_variables",
        verbose_name=_("charge point"),
    )
    component = models.CharField(_("component"), max_length=50)
    component_instance = models.CharField(_("component instance"), max_length=50, blank=True)
    evse_id = models.PositiveIntegerField(
        _("EVSE"), null=True, blank=True, help_text=_("Empty: the charging station as a whole.")
    )
    connector_id = models.PositiveIntegerField(_("connector"), null=True, blank=True)
    name = models.CharField(_("variable"), max_length=50)
    instance = models.CharField(_("variable instance"), max_length=50, blank=True)
    # Characteristics (NotifyReport); blank until a report gave them.
    data_type = models.CharField(
        _("data type"), max_length=16, choices=DataType.choices, blank=True
    )
    unit = models.CharField(_("unit"), max_length=16, blank=True)
    min_limit = models.FloatField(_("minimum"), null=True, blank=True)
    max_limit = models.FloatField(_("maximum"), null=True, blank=True)
    values_list = models.CharField(
        _("allowed values"), max_length=1000, blank=True, help_text=_("Comma-separated.")
    )
    supports_monitoring = models.BooleanField(_("supports monitoring"), null=True, blank=True)
    report_request_id = models.IntegerField(
        _("last reported in"), null=True, blank=True, help_text=_("The request id of the report.")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("device variable")
        verbose_name_plural = _("device variables")
        ordering = ["charge_point", "component", "component_instance", "evse_id", "name"]
        constraints = [
            # A missing EVSE or connector is one identity, not a new one each time.
            models.UniqueConstraint(
                "charge_point",
                "component",
                "component_instance",
                Coalesce("evse_id", -1),
                Coalesce("connector_id", -1),
                "name",
                "instance",
                name="devicevariable_identity_unique",
            )
        ]

    def __str__(self):
        return self.path

    @property
    def path(self) -> str:
        """Component[instance]/EVSE/connector.Variable[instance], as an operator reads it."""
        component = self.component + (
            f"[{self.component_instance}]" if self.component_instance else ""
        )
        if self.evse_id is not None:
            component += f"/EVSE {self.evse_id}"
            if self.connector_id is not None:
                component += f"/connector {self.connector_id}"
        variable = self.name + (f"[{self.instance}]" if self.instance else "")
        return f"{component}.{variable}"

    def value_problems(self, value: str) -> list[str]:
        """Why the charger would refuse this value, judged by the characteristics it reported."""
        return variable_value_problems(
            value=value,
            data_type=self.data_type,
            min_limit=self.min_limit,
            max_limit=self.max_limit,
            values_list=self.values_list,
        )


class VariableAttribute(models.Model):
    """One attribute of a variable: its value and whether it may be changed."""

    variable = models.ForeignKey(
        DeviceVariable,
        on_delete=models.CASCADE,
        related_name="attributes",
        verbose_name=_("variable"),
    )
    type = models.CharField(
        _("attribute"), max_length=8, choices=AttributeType.choices, default=AttributeType.ACTUAL
    )
    value = models.CharField(
        _("value"),
        max_length=2500,
        null=True,
        blank=True,
        help_text=_("Empty: not reported (or write-only)."),
    )
    mutability = models.CharField(
        _("mutability"),
        max_length=10,
        choices=Mutability.choices,
        blank=True,
        help_text=_("Blank: not reported yet (GetVariables does not tell)."),
    )
    persistent = models.BooleanField(_("persistent"), default=False)
    constant = models.BooleanField(_("constant"), default=False)
    set_status = models.CharField(
        _("last set"),
        max_length=26,
        choices=SetStatus.choices,
        blank=True,
        help_text=_("The charger's answer to the last SetVariables of this attribute."),
    )
    set_at = models.DateTimeField(_("last set at"), null=True, blank=True)
    reboot_required = models.BooleanField(
        _("reboot required"),
        default=False,
        help_text=_("The value set applies after the next reboot (cleared at the next boot)."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("variable attribute")
        verbose_name_plural = _("device model")
        ordering = ["variable", "type"]
        constraints = [
            models.UniqueConstraint(fields=["variable", "type"], name="variableattribute_unique")
        ]

    def __str__(self):
        return f"{self.variable.path} ({self.type})"

    @property
    def is_writable(self) -> bool:
        """Whether an operator may set it: not reported read-only or constant."""
        return self.mutability != Mutability.READ_ONLY and not self.constant

    def clean(self):
        """A new value must be writable and fit the variable's characteristics."""
        if not self.is_writable:
            raise ValidationError(_("This attribute is read-only."))
        if self.value is None:
            raise ValidationError({"value": _("A value is required.")})
        problems = self.variable.value_problems(self.value)
        if problems:
            raise ValidationError({"value": problems})


class NetworkProfile(models.Model):
    """A network connection profile slot, as the last SetNetworkProfile left it."""

    charge_point = models.ForeignKey(
        ChargePoint,
        on_delete=models.CASCADE,
        related_name="network_profiles",
        verbose_name=_("charge point"),
    )
    configuration_slot = models.IntegerField(_("configuration slot"))
    connection_data = models.JSONField(
        _("connection data"),
        default=dict,
        blank=True,
        help_text=_("The last profile the charger accepted in this slot (passwords masked)."),
    )
    last_status = models.CharField(_("last answer"), max_length=16)
    last_requested = models.JSONField(
        _("last requested"), default=dict, blank=True, help_text=_("Passwords masked.")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("network profile")
        verbose_name_plural = _("network profiles")
        ordering = ["charge_point", "configuration_slot"]
        constraints = [
            models.UniqueConstraint(
                fields=["charge_point", "configuration_slot"], name="networkprofile_slot_unique"
            )
        ]

    def __str__(self):
        return f"{self.charge_point} slot {self.configuration_slot}"


class ResetRecord(models.Model):
    """A Reset asked of a charge point and its answer (the boot that follows says why)."""

    charge_point = models.ForeignKey(
        ChargePoint, on_delete=models.CASCADE, related_name="resets", verbose_name=_("charge point")
    )
    reset_type = models.CharField(_("type"), max_length=10, choices=ResetType.choices)
    evse_id = models.PositiveIntegerField(
        _("EVSE"), null=True, blank=True, help_text=_("Empty: the whole charging station.")
    )
    status = models.CharField(_("answer"), max_length=16)
    answered_at = models.DateTimeField(_("answered at"), auto_now_add=True)

    class Meta:
        verbose_name = _("reset")
        verbose_name_plural = _("resets")
        ordering = ["-answered_at", "-id"]

    def __str__(self):
        return f"{self.charge_point} {self.reset_type} {self.status}"

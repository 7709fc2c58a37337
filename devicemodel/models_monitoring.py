"""Monitoring of a charge point's variables (OCPP 2.0.1 block N) and the events it reports.

Imported by `devicemodel.models`, where Django finds them. A monitor watches
one variable and makes the station send NotifyEvent when it trips; the
events are kept so that an operator sees what a station reported, and the
problem ones (an alert, or a monitor of severity Error or worse) stay an
alarm until the station clears them (or an operator acknowledges them).
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from stations.models import ChargePoint

from .choices import EventNotificationType, EventTrigger, MonitoringBase, MonitorType, ReportStatus

# 2.0.1 severities: 0 Danger, 1 Hardware failure, 2 System failure, 3 Critical,
# 4 Error, 5 Alert, 6 Warning, 7 Notice, 8 Informational, 9 Debug. An event of a
# monitor this severe or worse is a problem even when it is not an alert.
PROBLEM_SEVERITY_MAX = 3
SEVERITY_VALIDATORS = [MinValueValidator(0), MaxValueValidator(9)]


class VariableMonitor(models.Model):
    """A monitor on a variable: set by us (SetVariableMonitoring) or reported by the station."""

    charge_point = models.ForeignKey(
        ChargePoint,
        on_delete=models.CASCADE,
        related_name="variable_monitors",
        verbose_name=_("charge point"),
    )
    variable = models.ForeignKey(
        "devicemodel.DeviceVariable",
        on_delete=models.CASCADE,
        related_name="monitors",
        verbose_name=_("variable"),
    )
    monitor_id = models.IntegerField(
        _("monitor id"),
        null=True,
        blank=True,
        help_text=_("The station's id; empty when the station refused the monitor."),
    )
    type = models.CharField(_("type"), max_length=20, choices=MonitorType.choices)
    value = models.FloatField(
        _("value"), help_text=_("Threshold, delta or interval (seconds), by type.")
    )
    severity = models.PositiveSmallIntegerField(
        _("severity"), validators=SEVERITY_VALIDATORS, help_text=_("0 Danger .. 9 Debug.")
    )
    transaction = models.BooleanField(
        _("during transactions only"), default=False, help_text=_("Active only in a transaction.")
    )
    set_status = models.CharField(
        _("last set"),
        max_length=24,
        blank=True,
        help_text=_("The station's answer to SetVariableMonitoring; blank: reported."),
    )
    report_request_id = models.IntegerField(_("last reported in"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("variable monitor")
        verbose_name_plural = _("variable monitors")
        ordering = ["charge_point", "monitor_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["charge_point", "monitor_id"],
                condition=models.Q(monitor_id__isnull=False),
                name="variablemonitor_cp_id_unique",
            )
        ]

    def __str__(self):
        return f"{self.variable} {self.type} {self.value:g}"


class MonitoringSetting(models.Model):
    """What the station last accepted of SetMonitoringBase and SetMonitoringLevel."""

    charge_point = models.OneToOneField(
        ChargePoint,
        on_delete=models.CASCADE,
        related_name="monitoring_setting",
        verbose_name=_("charge point"),
    )
    monitoring_base = models.CharField(
        _("monitoring base"), max_length=16, choices=MonitoringBase.choices, blank=True
    )
    monitoring_level = models.PositiveSmallIntegerField(
        _("monitoring level"),
        null=True,
        blank=True,
        validators=SEVERITY_VALIDATORS,
        help_text=_("Events of monitors less severe than this are not sent."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("monitoring setting")
        verbose_name_plural = _("monitoring settings")

    def __str__(self):
        return f"{self.charge_point} {self.monitoring_base} {self.monitoring_level}"


class MonitoringReport(models.Model):
    """A GetMonitoringReport and its NotifyMonitoringReport parts, assembled by request id."""

    charge_point = models.ForeignKey(
        ChargePoint,
        on_delete=models.CASCADE,
        related_name="monitoring_reports",
        verbose_name=_("charge point"),
    )
    request_id = models.IntegerField(_("request id"))
    status = models.CharField(
        _("status"), max_length=16, choices=ReportStatus.choices, default=ReportStatus.REQUESTED
    )
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    parts_received = models.PositiveIntegerField(_("parts received"), default=0)
    last_seq_no = models.IntegerField(_("last part number"), null=True, blank=True)
    monitors_reported = models.PositiveIntegerField(_("monitors reported"), default=0)
    generated_at = models.DateTimeField(_("generated at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("monitoring report")
        verbose_name_plural = _("monitoring reports")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["charge_point", "request_id"], name="monitoringreport_cp_request_unique"
            )
        ]

    def __str__(self):
        return f"{self.charge_point} #{self.request_id}"


class DeviceEvent(models.Model):
    """One event of a NotifyEvent: a monitor tripped or a hard-wired notification."""

    charge_point = models.ForeignKey(
        ChargePoint,
        on_delete=models.CASCADE,
        related_name="device_events",
        verbose_name=_("charge point"),
    )
    variable = models.ForeignKey(
        "devicemodel.DeviceVariable",
        on_delete=models.CASCADE,
        related_name="events",
        verbose_name=_("variable"),
    )
    event_id = models.IntegerField(_("event id"))
    timestamp = models.DateTimeField(_("time"), help_text=_("The station's clock."))
    trigger = models.CharField(_("trigger"), max_length=10, choices=EventTrigger.choices)
    cause = models.IntegerField(
        _("cause"), null=True, blank=True, help_text=_("The event id that caused this one.")
    )
    actual_value = models.CharField(_("actual value"), max_length=2500)
    tech_code = models.CharField(_("technical code"), max_length=50, blank=True)
    tech_info = models.CharField(_("technical information"), max_length=500, blank=True)
    cleared = models.BooleanField(
        _("return to normal"), default=False, help_text=_("The station reports the end of it.")
    )
    transaction_id = models.CharField(_("charger's transaction id"), max_length=36, blank=True)
    variable_monitoring_id = models.IntegerField(_("monitor id"), null=True, blank=True)
    notification_type = models.CharField(
        _("notification type"), max_length=24, choices=EventNotificationType.choices
    )
    severity = models.PositiveSmallIntegerField(
        _("severity"),
        null=True,
        blank=True,
        help_text=_("Of its monitor, when we know that monitor."),
    )
    is_problem = models.BooleanField(
        _("problem"),
        default=False,
        help_text=_("An alert, or an event of a monitor of severity 0-3, not a return to normal."),
    )
    cleared_at = models.DateTimeField(
        _("problem cleared at"),
        null=True,
        blank=True,
        help_text=_("When the station reported the return to normal (or an operator closed it)."),
    )
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("device event")
        verbose_name_plural = _("device events")
        ordering = ["-timestamp", "-id"]
        indexes = [
            models.Index(
                fields=["is_problem", "cleared_at"],
                condition=models.Q(is_problem=True, cleared_at__isnull=True),
                name="deviceevent_open_problem_idx",
            ),
            models.Index(fields=["charge_point", "-timestamp"], name="deviceevent_cp_idx"),
        ]

    def __str__(self):
        return f"{self.charge_point} #{self.event_id} {self.trigger}"

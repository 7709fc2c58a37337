"""Charging profiles installed on charge points (OCPP Smart Charging profile)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from .charge_points import ChargePoint
from .transactions import Transaction


class ChargingProfile(models.Model):
    """A profile a charge point accepted (SetChargingProfile or a remote start).

    Kept while installed; a ClearChargingProfile that the charge point
    accepts, or a new profile with the same id or the same stack level and
    purpose, marks it cleared.
    """

    charge_point = models.ForeignKey(
        ChargePoint,
        on_delete=models.CASCADE,
        related_name="charging_profiles",
        verbose_name=_("charge point"),
    )
    connector_id = models.PositiveIntegerField(_("connector id"))
    charging_profile_id = models.IntegerField(_("charging profile id"))
    transaction_id = models.IntegerField(_("transaction id"), null=True, blank=True)
    stack_level = models.PositiveIntegerField(_("stack level"))
    purpose = models.CharField(_("purpose"), max_length=32)
    kind = models.CharField(_("kind"), max_length=16)
    recurrency_kind = models.CharField(_("recurrency"), max_length=8, blank=True)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_to = models.DateTimeField(_("valid to"), null=True, blank=True)
    charging_rate_unit = models.CharField(_("rate unit"), max_length=1)
    duration = models.PositiveIntegerField(_("duration (s)"), null=True, blank=True)
    start_schedule = models.DateTimeField(_("schedule start"), null=True, blank=True)
    min_charging_rate = models.DecimalField(
        _("minimum rate"), max_digits=10, decimal_places=1, null=True, blank=True
    )
    # ChargingLimitSource of OCPP 2.0.1: CSO is this CSMS (every profile we set);
    # a 2.0.1 station also reports profiles others set (EMS, SO, Other).
    limit_source = models.CharField(
        _("limit source"),
        max_length=8,
        default="CSO",
        help_text=_("Who set it: CSO (this CSMS) or, as a station reports it, EMS, SO or Other."),
    )
    installed_at = models.DateTimeField(_("installed at"), auto_now_add=True)
    cleared_at = models.DateTimeField(_("cleared at"), null=True, blank=True)

    class Meta:
        verbose_name = _("charging profile")
        verbose_name_plural = _("charging profiles")
        ordering = ["charge_point", "connector_id", "-stack_level"]
        indexes = [
            models.Index(
                fields=["charge_point", "connector_id"],
                name="profile_cp_connector_idx",
                condition=models.Q(cleared_at__isnull=True),
            )
        ]

    def __str__(self):
        return f"{self.purpose} #{self.charging_profile_id}"


class ChargingSchedulePeriod(models.Model):
    profile = models.ForeignKey(
        ChargingProfile, on_delete=models.CASCADE, related_name="periods", verbose_name=_("profile")
    )
    start_period = models.PositiveIntegerField(_("start (s)"))
    limit = models.DecimalField(_("limit"), max_digits=10, decimal_places=1)
    number_phases = models.PositiveSmallIntegerField(_("phases"), null=True, blank=True)

    class Meta:
        verbose_name = _("schedule period")
        verbose_name_plural = _("schedule periods")
        ordering = ["start_period"]

    def __str__(self):
        return f"{self.start_period}s: {self.limit}"


class CompositeSchedule(models.Model):
    """The latest GetCompositeSchedule answer per connector, to show operators."""

    charge_point = models.ForeignKey(
        ChargePoint,
        on_delete=models.CASCADE,
        related_name="composite_schedules",
        verbose_name=_("charge point"),
    )
    connector_id = models.PositiveIntegerField(_("connector id"))
    schedule_start = models.DateTimeField(_("schedule start"), null=True, blank=True)
    schedule = models.JSONField(_("charging schedule"), null=True, blank=True)
    fetched_at = models.DateTimeField(_("fetched at"), auto_now=True)

    class Meta:
        verbose_name = _("composite schedule")
        verbose_name_plural = _("composite schedules")
        constraints = [
            models.UniqueConstraint(
                fields=["charge_point", "connector_id"], name="composite_cp_connector_unique"
            )
        ]

    def __str__(self):
        return f"{self.charge_point.charge_point_id}/{self.connector_id}"


class ExternalChargingLimit(models.Model):
    """A limit set outside the CSMS (grid operator, energy manager) a station reports.

    OCPP 2.0.1 NotifyChargingLimit sets it, ClearedChargingLimit clears it;
    one row per charge point, EVSE (0: the whole station) and source.
    """

    charge_point = models.ForeignKey(
        ChargePoint,
        on_delete=models.CASCADE,
        related_name="external_charging_limits",
        verbose_name=_("charge point"),
    )
    connector_id = models.PositiveIntegerField(_("connector id"), help_text=_("0: the station"))
    source = models.CharField(_("limit source"), max_length=8)
    is_grid_critical = models.BooleanField(_("grid critical"), null=True, blank=True)
    schedule = models.JSONField(_("charging schedules"), null=True, blank=True)
    reported_at = models.DateTimeField(_("reported at"), auto_now=True)
    cleared_at = models.DateTimeField(_("cleared at"), null=True, blank=True)

    class Meta:
        verbose_name = _("external charging limit")
        verbose_name_plural = _("external charging limits")
        constraints = [
            models.UniqueConstraint(
                fields=["charge_point", "connector_id", "source"],
                name="external_limit_cp_connector_source_unique",
            )
        ]

    def __str__(self):
        return f"{self.charge_point.charge_point_id}/{self.connector_id} {self.source}"


class EVChargingNeeds(models.Model):
    """What an EV asked for (ISO 15118, via OCPP 2.0.1) and the schedule it chose.

    One row per session (or per EVSE while no session runs); kept to show
    operators, who may answer it with a TxProfile.
    """

    charge_point = models.ForeignKey(
        ChargePoint,
        on_delete=models.CASCADE,
        related_name="ev_charging_needs",
        verbose_name=_("charge point"),
    )
    connector_id = models.PositiveIntegerField(_("connector id"))
    transaction = models.ForeignKey(
        Transaction,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="ev_charging_needs",
        verbose_name=_("transaction"),
    )
    requested_energy_transfer = models.CharField(_("energy transfer"), max_length=16, blank=True)
    departure_time = models.DateTimeField(_("departure time"), null=True, blank=True)
    max_schedule_tuples = models.PositiveIntegerField(
        _("max schedule tuples"), null=True, blank=True
    )
    needs = models.JSONField(_("charging needs"), null=True, blank=True)
    schedule_time_base = models.DateTimeField(_("schedule time base"), null=True, blank=True)
    schedule = models.JSONField(_("EV charging schedule"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("EV charging needs")
        verbose_name_plural = _("EV charging needs")
        indexes = [
            models.Index(fields=["charge_point", "connector_id"], name="ev_needs_cp_connector_idx")
        ]

    def __str__(self):
        return f"{self.charge_point.charge_point_id}/{self.connector_id}"

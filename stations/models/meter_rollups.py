"""Meter values rolled up per session and interval, so raw samples can age out.

A session's charts and its energy per interval stay when the raw samples of
`MeterValue` are deleted by the retention sweep (docs/METER_VALUES.md). The
register readings that bill a session (meter start and stop, the energy)
live on the session itself and never depend on raw samples.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from .transactions import Transaction

_NUMBER = dict(max_digits=24, decimal_places=6)


class SessionMeterRollup(models.Model):
    """How far a session's samples are rolled up, and whether its raw samples were deleted."""

    transaction = models.OneToOneField(
        Transaction,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="meter_rollup",
        verbose_name=_("transaction"),
    )
    interval_seconds = models.PositiveIntegerField(_("interval (seconds)"))
    # A copy of the session's stop, set once it ended: the retention sweep walks
    # the sessions not yet pruned in this order, without touching the others.
    session_stopped_at = models.DateTimeField(_("session stopped at"), null=True, blank=True)
    # Samples before this instant are rolled up (an ended session's: all of them).
    rolled_up_until = models.DateTimeField(_("rolled up until"), null=True, blank=True)
    rolled_up_at = models.DateTimeField(_("rolled up at"))
    sample_count = models.PositiveIntegerField(_("numeric samples rolled up"), default=0)
    raw_deleted_at = models.DateTimeField(_("raw samples deleted at"), null=True, blank=True)
    raw_deleted_count = models.PositiveIntegerField(_("raw samples deleted"), default=0)

    class Meta:
        verbose_name = _("session meter roll-up")
        verbose_name_plural = _("session meter roll-ups")
        indexes = [
            models.Index(
                fields=["session_stopped_at"],
                name="meter_rollup_prunable_idx",
                condition=models.Q(session_stopped_at__isnull=False, raw_deleted_at__isnull=True),
            )
        ]

    def __str__(self):
        return str(self.transaction_id)

    @property
    def raw_deleted(self) -> bool:
        return self.raw_deleted_at is not None


class MeterValueRollup(models.Model):
    """One measurand (phase, unit) of one session over one interval: its numbers summed up."""

    transaction = models.ForeignKey(
        Transaction,
        on_delete=models.CASCADE,
        related_name="meter_value_rollups",
        verbose_name=_("transaction"),
    )
    measurand = models.CharField(_("measurand"), max_length=48)
    phase = models.CharField(_("phase"), max_length=8, blank=True)
    unit = models.CharField(_("unit"), max_length=16)
    interval_start = models.DateTimeField(_("interval start"))
    first_at = models.DateTimeField(_("first sample at"))
    first_value = models.DecimalField(_("first value"), **_NUMBER)
    last_at = models.DateTimeField(_("last sample at"))
    last_value = models.DecimalField(_("last value"), **_NUMBER)
    min_value = models.DecimalField(_("minimum"), **_NUMBER)
    max_value = models.DecimalField(_("maximum"), **_NUMBER)
    avg_value = models.DecimalField(_("average"), **_NUMBER)
    sample_count = models.PositiveIntegerField(_("samples"))

    class Meta:
        verbose_name = _("meter value roll-up")
        verbose_name_plural = _("meter value roll-ups")
        ordering = ["interval_start", "id"]
        constraints = [
            # Also the index of a chart: one session's measurand and phase by time.
            models.UniqueConstraint(
                fields=["transaction", "measurand", "phase", "unit", "interval_start"],
                name="metervalue_rollup_unique",
            )
        ]

    def __str__(self):
        return f"{self.measurand} {self.interval_start:%Y-%m-%d %H:%M}"

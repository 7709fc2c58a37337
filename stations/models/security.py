"""Security events: reported by charge points or raised by the CSMS itself."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from .charge_points import ChargePoint

# Security events the OCPP 1.6 security whitepaper (Appendix 1) marks critical.
CRITICAL_EVENT_TYPES = frozenset(
    {
        "FirmwareUpdated",
        "SettingSystemTime",
        "StartupOfTheDevice",
        "ResetOrReboot",
        "SecurityLogWasCleared",
        "MemoryExhaustion",
        "TamperDetectionActivated",
    }
)


class SecurityEventOrigin(models.TextChoices):
    CHARGE_POINT = "charge_point", _("reported by the charge point")
    CSMS = "csms", _("raised by the CSMS")


class SecurityEvent(models.Model):
    charge_point = models.ForeignKey(
        ChargePoint,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="security_events",
        verbose_name=_("charge point"),
    )
    claimed_id = models.CharField(
        _("claimed charge point id"),
        max_length=100,
        blank=True,
        help_text=_("The id a refused handshake asked for (it may not exist)."),
    )
    origin = models.CharField(_("origin"), max_length=16, choices=SecurityEventOrigin.choices)
    event_type = models.CharField(_("type"), max_length=50)
    tech_info = models.CharField(_("technical info"), max_length=255, blank=True)
    critical = models.BooleanField(_("critical"), default=False)
    source_address = models.CharField(_("source address"), max_length=64, blank=True)
    timestamp = models.DateTimeField(_("timestamp"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("security event")
        verbose_name_plural = _("security events")
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["critical", "-received_at"], name="secevent_critical_idx")]

    def __str__(self):
        return self.event_type

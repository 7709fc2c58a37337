"""Display messages and customer information of OCPP 2.0.1 stations (blocks O and N).

Imported by `devicemodel.models`, where Django finds them.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from stations.models import ChargePoint

from .choices import MessageFormat, MessagePriority, MessageState


class DisplayMessage(models.Model):
    """A message shown on a station's display: what we set, or what it reported."""

    charge_point = models.ForeignKey(
        ChargePoint,
        on_delete=models.CASCADE,
        related_name="display_messages",
        verbose_name=_("charge point"),
    )
    message_id = models.IntegerField(_("message id"))
    priority = models.CharField(_("priority"), max_length=12, choices=MessagePriority.choices)
    state = models.CharField(
        _("shown when"),
        max_length=12,
        choices=MessageState.choices,
        blank=True,
        help_text=_("Blank: in any state."),
    )
    start_at = models.DateTimeField(_("from"), null=True, blank=True)
    end_at = models.DateTimeField(_("until"), null=True, blank=True)
    transaction_id = models.CharField(
        _("charger's transaction id"),
        max_length=36,
        blank=True,
        help_text=_("Shown during that transaction only."),
    )
    format = models.CharField(_("format"), max_length=5, choices=MessageFormat.choices)
    language = models.CharField(_("language"), max_length=8, blank=True)
    content = models.CharField(_("content"), max_length=512)
    display = models.JSONField(
        _("display"), null=True, blank=True, help_text=_("The display component, if not the main.")
    )
    set_status = models.CharField(
        _("last set"),
        max_length=28,
        blank=True,
        help_text=_("The station's answer to SetDisplayMessage; blank: reported by it."),
    )
    reported_at = models.DateTimeField(
        _("last reported"),
        null=True,
        blank=True,
        help_text=_("When the station last listed it (NotifyDisplayMessages)."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("display message")
        verbose_name_plural = _("display messages")
        ordering = ["charge_point", "message_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["charge_point", "message_id"], name="displaymessage_cp_id_unique"
            )
        ]

    def __str__(self):
        return f"{self.charge_point} #{self.message_id}"


class CustomerInformation(models.Model):
    """A CustomerInformation request and the data the station sent back, assembled in order.

    The data is personal: it is kept for the operator who asked (and as the
    proof that a clear was done), shown read-only.
    """

    charge_point = models.ForeignKey(
        ChargePoint,
        on_delete=models.CASCADE,
        related_name="customer_information",
        verbose_name=_("charge point"),
    )
    request_id = models.IntegerField(_("request id"))
    report = models.BooleanField(_("report asked"), default=False)
    clear = models.BooleanField(_("clear asked"), default=False)
    customer = models.CharField(
        _("customer"),
        max_length=64,
        blank=True,
        help_text=_("The customer identifier or id token asked about."),
    )
    status = models.CharField(_("answer"), max_length=10, blank=True)
    parts = models.JSONField(
        _("parts"), default=dict, blank=True, help_text=_("Data by part number (seqNo).")
    )
    complete = models.BooleanField(_("complete"), default=False)
    generated_at = models.DateTimeField(_("generated at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("customer information")
        verbose_name_plural = _("customer information")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["charge_point", "request_id"], name="customerinfo_cp_request_unique"
            )
        ]

    def __str__(self):
        return f"{self.charge_point} #{self.request_id}"

    @property
    def data(self) -> str:
        """The parts received, in their order."""
        return "".join(self.parts[key] for key in sorted(self.parts, key=int))

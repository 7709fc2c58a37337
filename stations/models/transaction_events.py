"""The events a charger reports about one of its sessions (OCPP 2.0.1 TransactionEvent).

A 2.0.1 session is told as a numbered series of events (Started, Updated,
Ended) that may come twice, late or out of order (a charger catching up
after being offline). Each is kept here once, by its number: a
retransmission is recognised and answered as before, and what the charger
said (its own stop reason, the charging state) is kept as it said it.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from .transactions import ID_TOKEN_MAX_LENGTH, Transaction


class TransactionEventType(models.TextChoices):
    STARTED = "Started", _("Started")
    UPDATED = "Updated", _("Updated")
    ENDED = "Ended", _("Ended")


class TransactionEventLog(models.Model):
    """One TransactionEvent of a session, as the charger reported it."""

    transaction = models.ForeignKey(
        Transaction,
        on_delete=models.CASCADE,
        related_name="event_log",
        verbose_name=_("transaction"),
    )
    seq_no = models.PositiveIntegerField(_("sequence number"))
    event_type = models.CharField(_("event"), max_length=8, choices=TransactionEventType.choices)
    trigger_reason = models.CharField(_("trigger reason"), max_length=32)
    timestamp = models.DateTimeField(_("timestamp"))
    offline = models.BooleanField(_("sent after being offline"), default=False)
    id_token = models.CharField(_("id token"), max_length=ID_TOKEN_MAX_LENGTH, blank=True)
    id_token_type = models.CharField(_("id token type"), max_length=16, blank=True)
    # The authorization the event's idToken was answered with: a retransmission
    # gets the same answer even if the tag changed since.
    id_token_status = models.CharField(_("id token answer"), max_length=16, blank=True)
    charging_state = models.CharField(_("charging state"), max_length=16, blank=True)
    stopped_reason = models.CharField(_("stopped reason (as reported)"), max_length=24, blank=True)
    # The Energy.Active.Import.Register reading (Wh) the event carried, if any:
    # the earliest one is the session's meter start.
    meter_wh = models.BigIntegerField(_("energy register (Wh)"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("transaction event")
        verbose_name_plural = _("transaction events")
        ordering = ["transaction", "seq_no"]
        constraints = [
            models.UniqueConstraint(
                fields=["transaction", "seq_no"], name="transaction_event_seq_unique"
            )
        ]

    def __str__(self):
        return f"{self.transaction_id} #{self.seq_no} {self.event_type}"

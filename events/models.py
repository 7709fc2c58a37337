"""The transactional outbox: one row per domain event and subscriber."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .kinds import EventKind


class OutboxMessage(models.Model):
    """A domain event addressed to one subscriber, kept until that subscriber handled it.

    Written in the transaction of the change it reports, so the event exists
    exactly when the change does; the relay delivers it after the commit and
    retries (with back-off) until the subscriber succeeds. One row per
    subscriber lets each one fail and retry without holding up the others.
    """

    kind = models.CharField(_("event"), max_length=64, choices=EventKind.choices)
    subscriber = models.CharField(_("subscriber"), max_length=64)
    payload = models.JSONField(_("payload"), default=dict)
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    attempts = models.PositiveIntegerField(_("failed attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    # Set when a live subscriber's event grew too old to be worth delivering.
    expired = models.BooleanField(_("expired"), default=False)

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["subscriber", "next_attempt_at"],
                condition=Q(handled_at__isnull=True),
                name="outbox_pending_idx",
            ),
            models.Index(fields=["handled_at"], name="outbox_handled_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} -> {self.subscriber} #{self.pk}"

    @property
    def is_pending(self) -> bool:
        return self.handled_at is None

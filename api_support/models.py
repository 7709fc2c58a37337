from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class IdempotencyRecord(models.Model):
    """The first response to a request sent with an `Idempotency-Key` header.

    A repeat of the request (same user, same key) gets this response back
    instead of running the action again. A record without a status code is a
    request still in progress.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="idempotency_records",
        verbose_name=_("user"),
    )
    key = models.CharField(_("idempotency key"), max_length=255)
    method = models.CharField(_("method"), max_length=10)
    path = models.CharField(_("path"), max_length=500)
    fingerprint = models.CharField(
        _("request fingerprint"), max_length=64, help_text=_("SHA-256 of method, path and body.")
    )
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True, blank=True)
    response_body = models.JSONField(_("response body"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key_unique")
        ]

    def __str__(self):
        return f"{self.key} ({self.method} {self.path})"

    @property
    def is_complete(self) -> bool:
        return self.status_code is not None

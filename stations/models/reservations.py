"""Reservations of connectors (OCPP Reservation profile)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from drivers.models import ID_TAG_MAX_LENGTH

from .charge_points import ChargePoint


class ReservationStatus(models.TextChoices):
    REQUESTED = "requested", _("requested")
    ACCEPTED = "accepted", _("accepted")
    FAULTED = "faulted", _("refused: faulted")
    OCCUPIED = "occupied", _("refused: occupied")
    REJECTED = "rejected", _("refused: rejected")
    UNAVAILABLE = "unavailable", _("refused: unavailable")
    CANCELLED = "cancelled", _("cancelled")
    USED = "used", _("used by a transaction")
    EXPIRED = "expired", _("expired")


class Reservation(models.Model):
    """A ReserveNow sent to a charge point and what became of it.

    `reservation_id` is the OCPP reservationId; a reservation is used when a
    StartTransaction carrying it is Accepted.
    """

    reservation_id = models.IntegerField(_("reservation id"), unique=True)
    charge_point = models.ForeignKey(
        ChargePoint,
        on_delete=models.CASCADE,
        related_name="reservations",
        verbose_name=_("charge point"),
    )
    connector_id = models.PositiveIntegerField(_("connector id"), help_text=_("0: any connector"))
    id_tag = models.CharField(_("id tag"), max_length=ID_TAG_MAX_LENGTH)
    parent_id_tag = models.CharField(_("parent id tag"), max_length=ID_TAG_MAX_LENGTH, blank=True)
    expiry_date = models.DateTimeField(_("expires"))
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=ReservationStatus.choices,
        default=ReservationStatus.REQUESTED,
    )
    transaction = models.OneToOneField(
        "stations.Transaction",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reservation",
        verbose_name=_("transaction"),
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reservations",
        verbose_name=_("requested by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("reservation")
        verbose_name_plural = _("reservations")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "expiry_date"], name="reservation_status_exp_idx")
        ]

    def __str__(self):
        return f"#{self.reservation_id} {self.id_tag}"

"""Firmware images, upload slots and received files, and firmware campaigns.

Files live in Django's default storage (MEDIA_ROOT); charge points reach
them only through the signed links of firmware.views.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from stations.models import ChargePoint

from .choices import CampaignStatus, TargetState, UploadKind


class FirmwareImage(models.Model):
    """An image operators uploaded, with what it fits and how to check it."""

    file = models.FileField(_("file"), upload_to="firmware/%Y/%m/")
    version = models.CharField(_("version"), max_length=50)
    vendor = models.CharField(
        _("vendor"), max_length=50, blank=True, help_text=_("Blank: fits any vendor.")
    )
    model = models.CharField(
        _("model"), max_length=50, blank=True, help_text=_("Blank: fits any model.")
    )
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0, editable=False)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True, editable=False)
    md5 = models.CharField(_("MD5"), max_length=32, blank=True, editable=False)
    # OCPP 2.0.1 secure firmware update (and 1.6 SignedUpdateFirmware).
    signing_certificate = models.TextField(
        _("signing certificate (PEM)"), max_length=5500, blank=True
    )
    signature = models.TextField(_("signature (base64)"), max_length=800, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("firmware image")
        verbose_name_plural = _("firmware images")

    def __str__(self) -> str:
        fits = " ".join(filter(None, [self.vendor, self.model])) or _("any charge point")
        return f"{self.version} ({fits})"

    @property
    def filename(self) -> str:
        return self.file.name.rsplit("/", 1)[-1]


class UploadSlot(models.Model):
    """Where one GetDiagnostics/GetLog request may upload: a secret URL, bound to a charge point.

    Only the SHA-256 of the token is kept: the database alone cannot upload.
    """

    charge_point = models.ForeignKey(
        ChargePoint, on_delete=models.CASCADE, related_name="upload_slots"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=UploadKind.choices)
    request_id = models.PositiveIntegerField(_("request id"), null=True, blank=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    expires_at = models.DateTimeField(_("expires at"))
    uploads = models.PositiveSmallIntegerField(_("uploads received"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("upload slot")
        verbose_name_plural = _("upload slots")

    def __str__(self) -> str:
        return f"{self.charge_point} {self.kind} #{self.pk}"


class UploadedFile(models.Model):
    """A diagnostics or log file a charge point uploaded."""

    charge_point = models.ForeignKey(
        ChargePoint, on_delete=models.CASCADE, related_name="uploaded_files"
    )
    slot = models.ForeignKey(
        UploadSlot, on_delete=models.SET_NULL, null=True, blank=True, related_name="files"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=UploadKind.choices)
    file = models.FileField(_("file"), upload_to="uploads/%Y/%m/")
    original_name = models.CharField(_("name sent"), max_length=255, blank=True)
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = _("uploaded file")
        verbose_name_plural = _("uploaded files")

    def __str__(self) -> str:
        return f"{self.charge_point} {self.original_name or self.file.name}"


class Campaign(models.Model):
    """An image rolled out to a set of charge points in waves."""

    name = models.CharField(_("name"), max_length=100)
    image = models.ForeignKey(FirmwareImage, on_delete=models.PROTECT, related_name="campaigns")
    status = models.CharField(
        _("status"), max_length=16, choices=CampaignStatus.choices, default=CampaignStatus.RUNNING
    )
    max_parallel = models.PositiveSmallIntegerField(
        _("at most at a time"), default=2, help_text=_("Charge points updating at once.")
    )
    max_attempts = models.PositiveSmallIntegerField(
        _("attempts"),
        default=3,
        help_text=_("Sends of UpdateFirmware per charge point (refused, offline) before failing."),
    )
    target_timeout_minutes = models.PositiveIntegerField(
        _("timeout (minutes)"),
        default=120,
        help_text=_("A charge point silent this long after its last status fails."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("firmware campaign")
        verbose_name_plural = _("firmware campaigns")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_parallel__gte=1), name="firmware_campaign_parallel_min_1"
            )
        ]

    def __str__(self) -> str:
        return self.name


class CampaignTarget(models.Model):
    """One charge point of a campaign and how far it got."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="targets")
    charge_point = models.ForeignKey(
        ChargePoint, on_delete=models.CASCADE, related_name="firmware_targets"
    )
    state = models.CharField(
        _("state"), max_length=16, choices=TargetState.choices, default=TargetState.PENDING
    )
    last_status = models.CharField(_("last status"), max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    progressed_at = models.DateTimeField(_("last progress"), null=True, blank=True)

    class Meta:
        ordering = ["campaign", "charge_point__charge_point_id"]
        verbose_name = _("campaign target")
        verbose_name_plural = _("campaign targets")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "charge_point"], name="firmware_target_once_per_campaign"
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign}: {self.charge_point}"

"""Stored states of the files app (our own, not OCPP's)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class UploadKind(models.TextChoices):
    """What a charge point was asked to upload: 1.6 GetDiagnostics or 2.0.1 GetLog."""

    DIAGNOSTICS = "diagnostics", _("Diagnostics (1.6 GetDiagnostics)")
    LOG = "log", _("Log (2.0.1 GetLog)")


class CampaignStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    ABORTED = "aborted", _("Aborted")
    FINISHED = "finished", _("Finished")


class TargetState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    DOWNLOADING = "downloading", _("Downloading")
    INSTALLING = "installing", _("Installing")
    INSTALLED = "installed", _("Installed")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


# A target in one of these waits for the charge point: it counts against the wave size.
IN_FLIGHT = (TargetState.SENT, TargetState.DOWNLOADING, TargetState.INSTALLING)
# A target in one of these is done with.
FINAL = (TargetState.INSTALLED, TargetState.FAILED, TargetState.SKIPPED)

# Firmware status values of both OCPP versions (as stored by
# stations.services.chargepoint_firmware_status) and the target state each
# means. Anything else (1.6 Idle, 2.0.1 DownloadScheduled ...) changes nothing.
FIRMWARE_STATUS_STATES = {
    "Downloading": TargetState.DOWNLOADING,
    "Downloaded": TargetState.DOWNLOADING,
    "DownloadScheduled": TargetState.DOWNLOADING,
    "DownloadPaused": TargetState.DOWNLOADING,
    "SignatureVerified": TargetState.INSTALLING,
    "Installing": TargetState.INSTALLING,
    "InstallScheduled": TargetState.INSTALLING,
    "InstallRebooting": TargetState.INSTALLING,
    "Installed": TargetState.INSTALLED,
    "DownloadFailed": TargetState.FAILED,
    "InstallationFailed": TargetState.FAILED,
    "InstallVerificationFailed": TargetState.FAILED,
    "InvalidSignature": TargetState.FAILED,
    "RevokedCertificate": TargetState.FAILED,
}

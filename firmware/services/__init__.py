"""Writes of the files app: images, links, uploads, campaigns."""

from .campaigns import (
    campaign_abort,
    campaign_create,
    campaign_pause,
    campaign_refresh,
    campaign_resume,
    campaign_target_sent,
    campaign_wave,
)
from .images import firmware_image_checksums, firmware_image_create, firmware_image_for
from .links import (
    LinkExpired,
    LinkInvalid,
    firmware_link_resolve,
    firmware_link_url,
    public_base_url,
)
from .uploads import (
    UploadRefused,
    upload_receive,
    upload_slot_check,
    upload_slot_create,
    upload_url,
    uploads_purge,
)

__all__ = [
    "LinkExpired",
    "LinkInvalid",
    "UploadRefused",
    "campaign_abort",
    "campaign_create",
    "campaign_pause",
    "campaign_refresh",
    "campaign_resume",
    "campaign_target_sent",
    "campaign_wave",
    "firmware_image_checksums",
    "firmware_image_create",
    "firmware_image_for",
    "firmware_link_resolve",
    "firmware_link_url",
    "public_base_url",
    "upload_receive",
    "upload_slot_check",
    "upload_slot_create",
    "upload_url",
    "uploads_purge",
]

"""Firmware images: store an upload with the checksums chargers and operators check."""

from __future__ import annotations

import hashlib

from django.core.files import File
from django.db import transaction

from ..models import FirmwareImage

CHUNK = 1 << 20


def firmware_image_checksums(*, image: FirmwareImage) -> FirmwareImage:
    """Compute size, SHA-256 and MD5 from the stored file and save them.

    MD5 because some 1.6 chargers' vendors publish it; SHA-256 is the one to trust.
    """
    sha256, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    with image.file.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            sha256.update(chunk)
            md5.update(chunk)
            size += len(chunk)
    image.sha256, image.md5, image.size = sha256.hexdigest(), md5.hexdigest(), size
    image.save(update_fields=["sha256", "md5", "size"])
    return image


@transaction.atomic
def firmware_image_create(
    *,
    file: File,
    version: str,
    vendor: str = "",
    model: str = "",
    signing_certificate: str = "",
    signature: str = "",
    notes: str = "",
    uploaded_by_pk: int | None = None,
) -> FirmwareImage:
    """Store the file in the default storage and record the image with its checksums."""
    image = FirmwareImage(
        version=version,
        vendor=vendor,
        model=model,
        signing_certificate=signing_certificate,
        signature=signature,
        notes=notes,
        uploaded_by_id=uploaded_by_pk,
    )
    image.file.save(file.name.rsplit("/", 1)[-1], file, save=False)
    image.full_clean()
    image.save()
    return firmware_image_checksums(image=image)


def firmware_image_for(*, vendor: str, model: str) -> FirmwareImage | None:
    """The newest image that fits a charge point (blank vendor or model fits any)."""
    return (
        FirmwareImage.objects.filter(vendor__in=["", vendor], model__in=["", model])
        .order_by("-created_at", "-pk")
        .first()
    )

"""Diagnostics and log uploads: a secret URL per request, the files received, retention."""

from __future__ import annotations

import hashlib
import secrets
import tempfile
from datetime import timedelta

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.text import get_valid_filename

from ..choices import UploadKind
from ..models import UploadedFile, UploadSlot
from .links import public_base_url

CHUNK = 1 << 16
# A charger may retry an upload that broke off; more than this is not a retry.
MAX_UPLOADS_PER_SLOT = 3


class UploadRefused(Exception):
    """Unknown, expired or used-up token, or too large a file: the HTTP status says which."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def upload_slot_create(
    *,
    charge_point_pk: int,
    kind: UploadKind,
    request_id: int | None = None,
    ttl_seconds: int | None = None,
) -> tuple[UploadSlot, str]:
    """A slot and its token (shown once: only its hash is stored)."""
    ttl = settings.FILES_UPLOAD_TTL_SECONDS if ttl_seconds is None else ttl_seconds
    token = secrets.token_urlsafe(24)
    slot = UploadSlot.objects.create(
        charge_point_id=charge_point_pk,
        kind=kind,
        request_id=request_id,
        token_hash=_token_hash(token),
        expires_at=timezone.now() + timedelta(seconds=ttl),
    )
    return slot, token


def upload_url(*, token: str, request_base: str = "") -> str:
    path = reverse("firmware_upload", kwargs={"token": token})
    return public_base_url(request_base=request_base) + path


def upload_slot_check(*, token: str) -> UploadSlot:
    """The slot a token opens, if it may still take a file (before reading a body)."""
    slot = UploadSlot.objects.filter(token_hash=_token_hash(token)).first()
    if slot is None:
        raise UploadRefused(403, "unknown upload token")
    if slot.expires_at <= timezone.now():
        raise UploadRefused(410, "upload token expired")
    if slot.uploads >= MAX_UPLOADS_PER_SLOT:
        raise UploadRefused(409, "upload token used up")
    return slot


def upload_receive(*, token: str, stream, name: str = "") -> UploadedFile:
    """Store what a charge point sends for a slot, hashing and capping it as it streams."""
    slot = upload_slot_check(token=token)
    limit = settings.FILES_UPLOAD_MAX_BYTES
    digest, size = hashlib.sha256(), 0
    with tempfile.SpooledTemporaryFile(max_size=CHUNK * 16) as spool:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise UploadRefused(413, f"file larger than {limit} bytes")
            digest.update(chunk)
            spool.write(chunk)
        spool.seek(0)
        original = get_valid_filename(name.rsplit("/", 1)[-1]) if name else ""
        stored_name = original or f"{slot.kind}-{slot.charge_point_id}-{slot.pk}.bin"
        with transaction.atomic():
            # Counted in the database, so parallel uploads cannot pass the cap together.
            claimed = UploadSlot.objects.filter(
                pk=slot.pk, uploads__lt=MAX_UPLOADS_PER_SLOT
            ).update(uploads=F("uploads") + 1)
            if not claimed:
                raise UploadRefused(409, "upload token used up")
            upload = UploadedFile(
                charge_point_id=slot.charge_point_id,
                slot=slot,
                kind=slot.kind,
                original_name=name[:255],
                size=size,
                sha256=digest.hexdigest(),
            )
            upload.file.save(stored_name, File(spool), save=False)
            upload.save()
    return upload


def uploads_purge(*, older_than_days: int | None = None) -> int:
    """Delete files received more than the retention ago, and long-expired slots."""
    days = settings.FILES_UPLOAD_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    deleted = 0
    for upload in UploadedFile.objects.filter(received_at__lt=cutoff).iterator():
        upload.file.delete(save=False)
        upload.delete()
        deleted += 1
    UploadSlot.objects.filter(expires_at__lt=cutoff).delete()
    return deleted

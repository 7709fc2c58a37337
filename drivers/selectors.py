"""Reads about drivers and id tags, and the authorization decision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from .choices import AuthorizationStatus
from .models import IdTag


@dataclass(frozen=True)
class Authorization:
    """The answer to "may this id tag charge?" (OCPP IdTagInfo)."""

    status: str
    expiry_date: datetime | None = None
    parent_id_tag: str | None = None
    tag: IdTag | None = None


def idtag_get(*, id_tag: str) -> IdTag | None:
    """Find a tag case-insensitively (idToken is a CiString20)."""
    return IdTag.objects.select_related("parent").filter(id_tag__iexact=id_tag).first()


def idtag_authorize(*, id_tag: str, now: datetime | None = None) -> Authorization:
    """Decide an id tag's status: unknown tags are Invalid, lapsed ones Expired."""
    tag = idtag_get(id_tag=id_tag)
    if tag is None:
        return Authorization(status=AuthorizationStatus.INVALID)
    now = now or timezone.now()
    status = tag.status
    if status == AuthorizationStatus.ACCEPTED and tag.expiry_date and tag.expiry_date <= now:
        status = AuthorizationStatus.EXPIRED
    return Authorization(
        status=status,
        expiry_date=tag.expiry_date,
        parent_id_tag=tag.parent.id_tag if tag.parent else None,
        tag=tag,
    )

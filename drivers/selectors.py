"""Reads about drivers and id tags, and the authorization decision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from .choices import AuthorizationStatus
from .models import Driver, IdTag


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


def idtag_authorize_own(*, user_id: int, id_tag: str) -> Authorization | None:
    """The authorization of one of a driver's own tags; None when the tag is not theirs."""
    if not IdTag.objects.filter(driver__user_id=user_id, id_tag__iexact=id_tag).exists():
        return None
    return idtag_authorize(id_tag=id_tag)


# --- API reads -----------------------------------------------------------------


def idtag_list(*, user=None) -> QuerySet[IdTag]:
    """All id tags, or only those of the driver who is `user`."""
    queryset = IdTag.objects.select_related("parent", "driver")
    if user is None:
        return queryset
    if not user.is_authenticated:
        return queryset.none()
    return queryset.filter(driver__user=user)


def driver_list() -> QuerySet[Driver]:
    return (
        Driver.objects.select_related("user")
        .prefetch_related(Prefetch("id_tags", queryset=IdTag.objects.order_by("id_tag")))
        .order_by("user__username")
    )

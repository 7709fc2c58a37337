"""Reads about drivers and id tags, and the authorization decision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Prefetch, Q, QuerySet
from django.utils import timezone

from orm_support.query_templates import QueryTemplate

from .choices import AuthorizationStatus
from .models import DeviceToken, Driver, IdTag, User, device_token_hash


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


def _tag_with_its_parents_value(*, id_tag: str) -> QuerySet[IdTag]:
    return (
        IdTag.objects.filter(id_tag__iexact=id_tag)
        .annotate(parent_value=F("parent__id_tag"))
        .order_by("pk")[:1]
    )


# Every StartTransaction, StopTransaction and Authorize asks: compiled once.
_TAG_WITH_ITS_PARENTS_VALUE = QueryTemplate(_tag_with_its_parents_value)


def idtag_authorize(*, id_tag: str, now: datetime | None = None) -> Authorization:
    """Decide an id tag's status: unknown tags are Invalid, lapsed ones Expired."""
    found = _TAG_WITH_ITS_PARENTS_VALUE.rows(id_tag=id_tag)
    if not found:
        return Authorization(status=AuthorizationStatus.INVALID)
    tag = found[0]
    now = now or timezone.now()
    status = tag.status
    if status == AuthorizationStatus.ACCEPTED and tag.expiry_date and tag.expiry_date <= now:
        status = AuthorizationStatus.EXPIRED
    return Authorization(
        status=status,
        expiry_date=tag.expiry_date,
        parent_id_tag=tag.parent_value,
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


# --- Accounts and devices --------------------------------------------------------


def device_token_find(*, key: str) -> DeviceToken | None:
    """The device token with this key (revoked or expired ones too), with its user."""
    return (
        DeviceToken.objects.select_related("user").filter(key_hash=device_token_hash(key)).first()
    )


def device_token_list(*, user, now: datetime | None = None) -> QuerySet[DeviceToken]:
    """The devices signed in as `user`: not revoked, not expired; most recently used first."""
    now = now or timezone.now()
    return (
        DeviceToken.objects.filter(user=user, revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("-last_used_at", "-created_at", "-pk")
    )


def user_password_reset_targets(*, email: str) -> list[User]:
    """The active accounts a password reset for `email` goes to (none or one, in practice).

    Addresses are unique ignoring case (User's constraint); an installation
    from before that may hold two, and both owners may reset.
    """
    email = email.strip()
    if not email:
        return []
    return list(User.objects.filter(email__iexact=email, is_active=True))

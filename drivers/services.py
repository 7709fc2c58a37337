"""Writes of the drivers app: accounts, their virtual id tags, local authorization lists."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext_lazy

from .choices import AuthorizationStatus
from .models import (
    DEVICE_TOKEN_PREFIX_LENGTH,
    ContractCertificate,
    ContractCertificateStatus,
    DeviceToken,
    Driver,
    IdTag,
    LocalAuthList,
    User,
    device_token_hash,
)
from .selectors import Authorization

# 10 random bytes: 20 uppercase hex characters, the length of a CiString20 id tag.
VIRTUAL_TAG_BYTES = 10
VIRTUAL_TAG_NOTE = "Virtual tag issued by the app"
_ISSUE_ATTEMPTS = 5


def idtag_issue_virtual(*, driver: Driver) -> IdTag:
    """Give a driver a new random app tag (retried on the rare collision)."""
    for _ in range(_ISSUE_ATTEMPTS):
        value = secrets.token_hex(VIRTUAL_TAG_BYTES).upper()
        try:
            with transaction.atomic():
                return IdTag.objects.create(id_tag=value, driver=driver, note=VIRTUAL_TAG_NOTE)
        except IntegrityError:
            continue
    raise RuntimeError("could not issue a unique virtual id tag")


@transaction.atomic
def driver_create(
    *,
    username: str,
    password: str | None = None,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    phone: str = "",
    is_active: bool = True,
    issue_virtual_tag: bool = False,
) -> Driver:
    """Create a user and their driver profile; without a password the user cannot sign in.

    Raises ValidationError (by field) for a taken username or a weak password.
    """
    user = User(
        username=username,
        email=email,
        first_name=first_name,
        last_name=last_name,
        is_active=is_active,
    )
    if password:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from exc
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean()
    user.save()
    driver = Driver(user=user, phone=phone)
    driver.full_clean()
    driver.save()
    if issue_virtual_tag:
        idtag_issue_virtual(driver=driver)
    return driver


_USER_FIELDS = ("email", "first_name", "last_name", "is_active")


@transaction.atomic
def driver_update(*, driver: Driver, **fields) -> Driver:
    """Change account fields (email, names, is_active) and the profile's phone."""
    user = driver.user
    for name in _USER_FIELDS:
        if name in fields:
            setattr(user, name, fields[name])
    user.full_clean()
    user.save()
    if "phone" in fields:
        driver.phone = fields["phone"]
        driver.full_clean()
        driver.save(update_fields=["phone"])
    return driver


@transaction.atomic
def user_profile_update(*, user: User, **fields) -> User:
    """A user edits their own profile: email and names; phone when they are a driver."""
    for name in ("email", "first_name", "last_name"):
        if name in fields:
            setattr(user, name, fields[name])
    user.full_clean()
    user.save()
    driver = Driver.objects.filter(user=user).first()
    if driver is not None and "phone" in fields:
        driver.phone = fields["phone"]
        driver.full_clean()
        driver.save(update_fields=["phone"])
    return user


# --- Device tokens ---------------------------------------------------------------
# One API token per signed-in device. The key is shown once, at sign-in;
# only its hash is kept.

# 32 random bytes: 43 URL-safe characters. Never 40 hexadecimal characters,
# the format of DRF's tokens: the format tells which table holds a key.
DEVICE_TOKEN_BYTES = 32
# last_used_at (and with it a sliding expiry) is written at most this often:
# not one write per request.
DEVICE_TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)
# Revoked and expired tokens stay visible in the console this long.
DEVICE_TOKEN_KEEP_DEAD = timedelta(days=30)
DEVICE_NAME_MAX_LENGTH = 100


def _device_token_lifetime() -> timedelta | None:
    days = settings.API_TOKEN_TTL_DAYS
    return timedelta(days=days) if days else None


def device_name_clean(name: str | None, *, fallback: str) -> str:
    """A printable device name of at most 100 characters (user agents can be long)."""
    name = " ".join((name or "").split())[:DEVICE_NAME_MAX_LENGTH]
    return name or fallback


@transaction.atomic
def device_token_issue(
    *, user: User, name: str, key: str | None = None, expires: bool = True
) -> tuple[DeviceToken, str]:
    """A new token for one device of `user`; returns (record, key).

    `key` adopts an existing key (a token issued before devices); `expires`
    False gives a token that never expires (such adopted tokens keep their
    old behaviour). Also deletes this user's tokens that died long ago.
    """
    now = timezone.now()
    key = key or secrets.token_urlsafe(DEVICE_TOKEN_BYTES)
    lifetime = _device_token_lifetime()
    DeviceToken.objects.filter(user=user).filter(
        Q(revoked_at__lt=now - DEVICE_TOKEN_KEEP_DEAD)
        | Q(expires_at__lt=now - DEVICE_TOKEN_KEEP_DEAD)
    ).delete()
    device = DeviceToken.objects.create(
        user=user,
        name=device_name_clean(name, fallback="API"),
        key_hash=device_token_hash(key),
        key_prefix=key[:DEVICE_TOKEN_PREFIX_LENGTH],
        last_used_at=now,
        expires_at=now + lifetime if expires and lifetime else None,
    )
    return device, key


def device_token_touch(*, device: DeviceToken, now: datetime | None = None) -> None:
    """Note a use of the token; renews a sliding expiry. At most one write per interval."""
    now = now or timezone.now()
    if device.last_used_at is not None and now - device.last_used_at < DEVICE_TOKEN_TOUCH_INTERVAL:
        return
    changes = {"last_used_at": now}
    lifetime = _device_token_lifetime()
    if device.expires_at is not None and lifetime:
        changes["expires_at"] = now + lifetime
    # A conditional update: a revocation committed meanwhile is not undone.
    DeviceToken.objects.filter(pk=device.pk, revoked_at__isnull=True).update(**changes)
    for field, value in changes.items():
        setattr(device, field, value)


def device_token_rename(*, device: DeviceToken, name: str) -> DeviceToken:
    device.name = device_name_clean(name, fallback=device.name)
    device.save(update_fields=["name"])
    return device


def device_token_revoke(*, device: DeviceToken) -> None:
    """Sign one device out: its token stops working at once."""
    DeviceToken.objects.filter(pk=device.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def device_tokens_revoke(*, user: User, keep: DeviceToken | None = None) -> int:
    """Sign out every device of `user` (but `keep`); returns how many were signed out."""
    tokens = DeviceToken.objects.filter(user=user, revoked_at__isnull=True)
    if keep is not None:
        tokens = tokens.exclude(pk=keep.pk)
    return tokens.update(revoked_at=timezone.now())


# --- Passwords and account deletion ---------------------------------------------------


@transaction.atomic
def user_password_set(*, user: User, password: str) -> User:
    """Give `user` a new password (checked by AUTH_PASSWORD_VALIDATORS).

    Every device is signed out: whoever knew the old password may hold a
    token. Raises ValidationError under `password`.
    """
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    user.set_password(password)
    user.save(update_fields=["password"])
    device_tokens_revoke(user=user)
    return user


# The largest primary key a reset link can name (a BigAutoField).
_MAX_PK = 2**63 - 1


def user_password_reset_token(*, user: User) -> tuple[str, str]:
    """(uid, token) for a reset link (Django's default_token_generator).

    The token stops working after PASSWORD_RESET_TIMEOUT seconds, and once
    the password, the e-mail address or the last sign-in changes (a used
    link never works twice).
    """
    return urlsafe_base64_encode(force_bytes(user.pk)), default_token_generator.make_token(user)


def user_password_reset(*, uid: str, token: str, password: str) -> User:
    """Set a new password with a reset link's uid and token.

    Raises ValidationError under `token` for a link that is wrong, used or
    expired, under `password` for a password the validators refuse.
    """
    user = None
    try:
        pk = int(urlsafe_base64_decode(uid).decode("ascii"))
    except (ValueError, TypeError, UnicodeDecodeError):
        pk = None
    if pk is not None and 0 < pk <= _MAX_PK:
        user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None or not default_token_generator.check_token(user, token):
        raise ValidationError(
            {"token": [gettext_lazy("This link is invalid, used or expired: ask for a new one.")]}
        )
    return user_password_set(user=user, password=password)


@transaction.atomic
def account_delete(*, user: User) -> User:
    """Erase what identifies a person; keep what money and history need.

    Kept, for the operator's books and the charge points' history: the user
    and driver rows (anonymised, inactive), their id tags (Blocked, so that a
    lost card or an app tag can never start a session again), and through
    those tags the sessions and invoices. Erased: username (a random
    placeholder), e-mail, names, phone, password. Every device is signed out
    and Plug & Charge contracts are cancelled.
    """
    now = timezone.now()
    user.username = f"deleted-{secrets.token_hex(8)}"
    user.email = ""
    user.first_name = ""
    user.last_name = ""
    user.set_unusable_password()
    user.is_active = False
    user.last_login = None
    user.deleted_at = now
    user.save()
    driver = Driver.objects.filter(user=user).first()
    if driver is not None:
        driver.phone = ""
        driver.save(update_fields=["phone"])
        IdTag.objects.filter(driver=driver).update(
            status=AuthorizationStatus.BLOCKED, note="", updated_at=now
        )
        ContractCertificate.objects.filter(driver=driver).update(
            status=ContractCertificateStatus.CANCELLED
        )
    device_tokens_revoke(user=user)
    return user


# --- Local authorization lists -------------------------------------------------
# A charge point's LocalAuthList and its version change only when the charge
# point accepts an update; planning one changes nothing but its creation.


@dataclass(frozen=True)
class LocalListEntry:
    """One tag of a list update; without an authorization it leaves the list."""

    id_tag: str
    authorization: Authorization | None


@dataclass(frozen=True)
class LocalListUpdate:
    """An update of a charge point's local list, to be sent as version `version`.

    A full update replaces the whole list; a differential one adds or changes
    the entries with an authorization and removes those without.
    """

    version: int
    full: bool
    entries: tuple[LocalListEntry, ...]


def _listed_authorization(tag: IdTag) -> Authorization:
    # The stored status: the charge point checks the expiry date itself.
    return Authorization(
        status=tag.status,
        expiry_date=tag.expiry_date,
        parent_id_tag=tag.parent.id_tag if tag.parent_id else None,
        tag=tag,
    )


def local_list_update_plan(
    *, charge_point_pk: int, id_tags: Iterable[IdTag], full: bool = True
) -> LocalListUpdate:
    """The update that makes the charge point's list hold exactly `id_tags`.

    Full lists every tag; differential lists them too, plus the tags of the
    accepted list that are no longer wanted (to be removed).
    """
    current, _ = LocalAuthList.objects.get_or_create(charge_point_id=charge_point_pk)
    wanted = {tag.pk: tag for tag in id_tags}
    entries = [LocalListEntry(tag.id_tag, _listed_authorization(tag)) for tag in wanted.values()]
    if not full:
        removed = current.id_tags.exclude(pk__in=wanted)
        entries += [LocalListEntry(tag.id_tag, None) for tag in removed]
    entries.sort(key=lambda entry: entry.id_tag)
    return LocalListUpdate(version=current.version + 1, full=full, entries=tuple(entries))


def local_list_target(*, current: set[int], selected: set[int], mode: str) -> set[int]:
    """The id tag pks a list should hold: "add", "remove", or "replace" with the selection."""
    if mode == "add":
        return current | selected
    if mode == "remove":
        return current - selected
    return set(selected)


def local_list_updates(
    *, charge_point_pks: Iterable[int], selected: Iterable[IdTag], mode: str
) -> dict[int, LocalListUpdate]:
    """One update per charge point for an operator's selection.

    "replace" is a full update; "add" and "remove" are differential ones.
    """
    selected = {tag.pk: tag for tag in selected}
    updates = {}
    for charge_point_pk in charge_point_pks:
        current, _ = LocalAuthList.objects.get_or_create(charge_point_id=charge_point_pk)
        current_pks = set(current.id_tags.values_list("pk", flat=True))
        target = local_list_target(current=current_pks, selected=set(selected), mode=mode)
        updates[charge_point_pk] = local_list_update_plan(
            charge_point_pk=charge_point_pk,
            id_tags=IdTag.objects.filter(pk__in=target).select_related("parent"),
            full=mode == "replace",
        )
    return updates


def _tags_named(values: Iterable[str]) -> list[IdTag]:
    query = Q()
    for value in values:
        query |= Q(id_tag__iexact=value)
    return list(IdTag.objects.filter(query)) if query else []


@transaction.atomic
def local_list_accepted(
    *,
    charge_point_pk: int,
    version: int,
    full: bool,
    id_tags: Iterable[str],
    removed_id_tags: Iterable[str] = (),
) -> None:
    """Record an update the charge point accepted.

    A full update leaves exactly `id_tags` on the list; a differential one
    adds `id_tags` and takes `removed_id_tags` off.
    """
    current, _ = LocalAuthList.objects.select_for_update().get_or_create(
        charge_point_id=charge_point_pk
    )
    present = _tags_named(id_tags)
    if full:
        current.id_tags.set(present)
    else:
        current.id_tags.add(*present)
        current.id_tags.remove(*_tags_named(removed_id_tags))
    current.version = version
    current.save(update_fields=["version", "updated_at"])


def local_list_version_reported(*, charge_point_pk: int, version: int) -> None:
    """Record the list version the charge point says it holds."""
    LocalAuthList.objects.update_or_create(
        charge_point_id=charge_point_pk,
        defaults={"reported_version": version, "reported_at": timezone.now()},
    )

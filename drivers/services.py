"""Writes of the drivers app: accounts, their virtual id tags, local authorization lists."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from .models import Driver, IdTag, LocalAuthList, User
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

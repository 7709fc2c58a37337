"""Writes of the drivers app: accounts, their virtual id tags, API tokens."""

from __future__ import annotations

import secrets

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from rest_framework.authtoken.models import Token

from .models import Driver, IdTag, User

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


def driver_signup(
    *,
    username: str,
    password: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    phone: str = "",
) -> tuple[Driver, str]:
    """Self-service sign-up: the account, one virtual id tag, and an API token."""
    with transaction.atomic():
        driver = driver_create(
            username=username,
            password=password,
            email=email,
            first_name=first_name,
            last_name=last_name,
            phone=phone,
            issue_virtual_tag=True,
        )
        token = auth_token_issue(user=driver.user)
    return driver, token


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


def auth_token_issue(*, user: User) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


def auth_token_revoke(*, user: User) -> int:
    """Sign out everywhere: the token stops working at once."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return deleted

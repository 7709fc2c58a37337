"""API tokens of users: one per signed-in device, plus DRF's tokens issued before devices."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from rest_framework.authtoken.models import Token

from ..models import DeviceToken, Driver, User
from ..services import account_delete, device_token_issue, device_tokens_revoke, driver_create
from ..signin import signin_records_forget


@dataclass(frozen=True)
class IssuedToken:
    """A key as handed to a client, once; `device` is None for a DRF token."""

    key: str
    device: DeviceToken | None = None


def device_sign_in(*, user: User, device_name: str) -> IssuedToken:
    """A new token for one device (each sign-in is a device of its own)."""
    device, key = device_token_issue(user=user, name=device_name)
    return IssuedToken(key=key, device=device)


def auth_token_issue(*, user: User) -> str:
    """The user's DRF token (made on first call): what sign-up gave before devices."""
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


def sign_out_everywhere(*, user: User, keep: DeviceToken | None = None) -> int:
    """Revoke every token of `user` (but `keep`), DRF tokens not yet adopted included."""
    with transaction.atomic():
        revoked = device_tokens_revoke(user=user, keep=keep)
        legacy, _ = Token.objects.filter(user=user).delete()
    return revoked + legacy


def account_erase(*, user: User) -> None:
    """Delete an account as far as the law and the books allow (drivers.services.account_delete).

    Also drops what the API side keeps about the person: DRF tokens and the
    sign-in records of the lockout (addresses, browsers).
    """
    username = user.username
    with transaction.atomic():
        account_delete(user=user)
        Token.objects.filter(user=user).delete()
        signin_records_forget(username=username)


def driver_signup(
    *,
    username: str,
    password: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    phone: str = "",
    device_name: str | None = None,
) -> tuple[Driver, IssuedToken]:
    """Self-service sign-up: the account, one virtual id tag, and an API token.

    With a `device_name` the token is that device's; without, it is the
    account's DRF token, as sign-up gave before devices (it becomes a device
    on its first use).
    """
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
        if device_name:
            issued = device_sign_in(user=driver.user, device_name=device_name)
        else:
            issued = IssuedToken(key=auth_token_issue(user=driver.user))
    return driver, issued

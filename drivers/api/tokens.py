"""API tokens of drivers: issued at sign-up, revoked at sign-out (DRF's Token model)."""

from __future__ import annotations

from django.db import transaction
from rest_framework.authtoken.models import Token

from ..models import Driver, User
from ..services import driver_create


def auth_token_issue(*, user: User) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


def auth_token_revoke(*, user: User) -> int:
    """Sign out everywhere: the token stops working at once."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return deleted


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

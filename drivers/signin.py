"""Sign-in helpers: usernames are one account in any case, so is the lockout."""

from __future__ import annotations

from django.conf import settings


def axes_username(request, credentials: dict | None = None) -> str | None:
    """The username django-axes counts failures under: folded to lower case.

    Sign-in ignores case (drivers.models.UserManager); without this, "Alice",
    "ALICE" and "aLiCe" would each get their own allowance of failures.
    """
    field = settings.AXES_USERNAME_FORM_FIELD
    if credentials:
        username = credentials.get(field)
    else:
        username = getattr(request, "data", request.POST).get(field)
    return username.casefold() if isinstance(username, str) else username

"""Sign-in helpers around django-axes: usernames are one account in any case, so is the lockout.

The lockout counts failures per (username, address) pair
(`AXES_LOCKOUT_PARAMETERS`); after `AXES_FAILURE_LIMIT` failures that pair
is refused, right password included, until `AXES_COOLOFF_MINUTES` after its
last failure. The API asks here before checking a password, so that a locked
pair gets a 429 with the time left instead of "wrong password".
"""

from __future__ import annotations

import math

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.db.models import Max
from django.utils import timezone

# Told to a client locked without a cool-off (AXES_COOLOFF_TIME unset): a day.
LOCKED_WITHOUT_COOL_OFF = 86400


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


def signin_lockout_remaining(request, *, username: str) -> int | None:
    """Seconds until `username` may try again from this request's address; None: not locked.

    `request` is the request the password would be checked with (the API's
    DRF request), so that the address is the one the failures were counted
    under.
    """
    if not settings.AXES_ENABLED:
        return None
    credentials = {settings.AXES_USERNAME_FORM_FIELD: username}
    if not AxesProxyHandler.is_locked(request, credentials):
        return None
    cool_off = get_cool_off(request)
    if cool_off is None:  # no cool-off configured: locked until an operator resets it
        return LOCKED_WITHOUT_COOL_OFF
    handler = AxesProxyHandler.get_implementation()
    last_failure = None
    if hasattr(handler, "get_user_attempts"):  # the database handler, the default
        for attempts in handler.get_user_attempts(request, credentials):
            latest = attempts.aggregate(latest=Max("attempt_time"))["latest"]
            if latest is not None and (last_failure is None or latest > last_failure):
                last_failure = latest
    if last_failure is None:  # a handler that keeps no times: the whole cool-off
        return max(1, math.ceil(cool_off.total_seconds()))
    remaining = (last_failure + cool_off - timezone.now()).total_seconds()
    return max(1, math.ceil(remaining))


def signin_lockout_clear(*, username: str) -> int:
    """Forget the failed sign-ins of `username` from every address (the owner proved it)."""
    return AxesProxyHandler.reset_attempts(username=username.casefold())


def signin_records_forget(*, username: str) -> None:
    """Delete what the lockout recorded about `username` (addresses, browsers): account deletion."""
    for model in (AccessAttempt, AccessFailureLog, AccessLog):
        model.objects.filter(username__iexact=username).delete()

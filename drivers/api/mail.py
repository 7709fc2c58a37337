"""The password reset e-mail: composed during the request, sent in the background.

Sending in the background keeps the answer the same, in content and in
time, whether or not an account has the address (no account enumeration),
and a slow or unreachable mail server never holds a request. A mail that
cannot be sent is logged; the person asks again.

The sender is DEFAULT_FROM_EMAIL, the server EMAIL_URL (docs/CONFIGURATION.md);
the link is PASSWORD_RESET_URL with the account's {uid} and {token}.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMessage
from django.utils.translation import gettext as _

from ..models import User
from ..selectors import user_password_reset_targets
from ..services import user_password_reset_token

logger = logging.getLogger(__name__)

# One reset mail per account per this many seconds, however often it is asked for.
MAIL_INTERVAL_SECONDS = 60

_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mail")
_pending: set[Future] = set()
_pending_lock = threading.Lock()


def password_reset_request(*, email: str) -> None:
    """Mail a reset link to the active account(s) with this address; nothing when none has it."""
    for user in user_password_reset_targets(email=email):
        if not cache.add(f"password-reset-mail:{user.pk}", 1, MAIL_INTERVAL_SECONDS):
            continue  # one was just sent: do not flood the inbox
        _send_later(_reset_message(user))


def _reset_link(user: User) -> str:
    uid, token = user_password_reset_token(user=user)
    # str.replace, not format(): the URL may hold other braces.
    return settings.PASSWORD_RESET_URL.replace("{uid}", uid).replace("{token}", token)


def _reset_message(user: User) -> EmailMessage:
    """The e-mail, in the language of the request (the app's Accept-Language)."""
    minutes = max(1, settings.PASSWORD_RESET_TIMEOUT // 60)
    body = _(
        "Hello %(name)s,\n\n"
        "someone, hopefully you, asked to reset the password of the account "
        "%(username)s. Open this link on your phone to choose a new password:\n\n"
        "%(link)s\n\n"
        "The link works once, within %(minutes)d minutes. If you did not ask for it, "
        "ignore this e-mail: your password stays as it is.\n"
    ) % {
        "name": user.get_full_name() or user.get_username(),
        "username": user.get_username(),
        "link": _reset_link(user),
        "minutes": minutes,
    }
    return EmailMessage(
        subject=_("Reset your password"),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
    )


def _send(message: EmailMessage) -> None:
    try:
        message.send()
    except Exception:  # a mail server down must not kill the worker thread
        logger.exception("a password reset e-mail could not be sent")


def _send_later(message: EmailMessage) -> None:
    future = _executor.submit(_send, message)
    with _pending_lock:
        _pending.add(future)
    future.add_done_callback(_forget)


def _forget(future: Future) -> None:
    with _pending_lock:
        _pending.discard(future)


def mail_wait(timeout: float = 10.0) -> None:
    """Wait until the mails queued so far are handed to the mail server (tests, shutdown)."""
    with _pending_lock:
        pending = set(_pending)
    wait(pending, timeout=timeout)

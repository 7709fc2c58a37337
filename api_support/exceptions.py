from django.db import DataError, InterfaceError, OperationalError
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler

try:  # the client of the channel layer and the broker
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ImportError:  # pragma: no cover
    RedisConnectionError = RedisTimeoutError = ConnectionRefusedError

# Seconds a client is asked to wait before retrying after a 503.
RETRY_AFTER_SECONDS = 5


class ResourceInUse(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("It is still referred to (e.g. by transactions or invoices).")
    default_code = "in_use"


class ServiceUnavailable(APIException):
    """A service the request needs is down; nothing was done: retry after `retry_after` s."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _("A service this request needs is unreachable. Retry later.")
    default_code = "service_unavailable"

    def __init__(self, detail=None, code=None, retry_after: int = RETRY_AFTER_SECONDS):
        super().__init__(detail, code)
        self.retry_after = retry_after


class TooManyAttempts(APIException):
    """Refused for a while (e.g. a sign-in lockout); the client may retry after `retry_after` s."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = _("Too many attempts. Retry later.")
    default_code = "too_many_attempts"

    def __init__(self, detail=None, code=None, retry_after: int = RETRY_AFTER_SECONDS):
        super().__init__(detail, code)
        self.retry_after = retry_after


def api_exception_handler(exc, context):
    """DRF's handler, plus: values the database cannot hold are the client's 400.

    A filter or path value beyond the column's range (an id of 1e38) raises
    OverflowError on SQLite and DataError on PostgreSQL before any view code
    can check it. A database or Redis that does not answer is a JSON 503
    with Retry-After, never an HTML 500 page.
    """
    if isinstance(exc, OverflowError | DataError):
        return Response(
            {"detail": _("A value is out of range.")}, status=status.HTTP_400_BAD_REQUEST
        )
    if isinstance(exc, OperationalError | InterfaceError):
        # Unreachable, restarting, or busy (a lock wait, a deadlock): transient.
        exc = ServiceUnavailable(_("The database is unreachable or busy. Retry later."))
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        exc = ServiceUnavailable(_("Redis (channel layer or broker) is unreachable. Retry later."))
    response = exception_handler(exc, context)
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(exc, ServiceUnavailable | TooManyAttempts) and response is not None:
        response["Retry-After"] = str(retry_after)
    return response

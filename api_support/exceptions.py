from django.db import DataError
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler


class ResourceInUse(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("It is still referred to (e.g. by transactions or invoices).")
    default_code = "in_use"


def api_exception_handler(exc, context):
    """DRF's handler, plus: values the database cannot hold are the client's 400.

    A filter or path value beyond the column's range (an id of 1e38) raises
    OverflowError on SQLite and DataError on PostgreSQL before any view code
    can check it.
    """
    if isinstance(exc, OverflowError | DataError):
        return Response(
            {"detail": _("A value is out of range.")}, status=status.HTTP_400_BAD_REQUEST
        )
    return exception_handler(exc, context)

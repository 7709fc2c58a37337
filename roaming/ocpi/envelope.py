"""The OCPI response envelope and the errors that become one."""

from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.utils import timezone

from ..formats import ocpi_datetime

SUCCESS = 1000
CLIENT_ERROR = 2000
INVALID_PARAMETERS = 2001
NOT_ENOUGH_INFORMATION = 2002
UNKNOWN_LOCATION = 2003
UNKNOWN_TOKEN = 2004
SERVER_ERROR = 3000
CLIENT_API_UNUSABLE = 3001
UNSUPPORTED_VERSION = 3002
NO_MATCHING_ENDPOINTS = 3003


class OcpiError(Exception):
    """Ends a request with an OCPI error envelope."""

    def __init__(self, http_status: int, status_code: int, message: str):
        super().__init__(message)
        self.http_status = http_status
        self.status_code = status_code
        self.message = message


def envelope(data=None, *, status_code: int = SUCCESS, message: str | None = None) -> dict:
    body = {"status_code": status_code, "timestamp": ocpi_datetime(timezone.now())}
    if data is not None:
        body["data"] = data
    if message:
        body["status_message"] = message
    return body


def ocpi_response(
    data=None,
    *,
    status_code: int = SUCCESS,
    message: str | None = None,
    http_status: int = 200,
    headers: dict | None = None,
) -> HttpResponse:
    body = envelope(data, status_code=status_code, message=message)
    response = HttpResponse(
        json.dumps(body, cls=DjangoJSONEncoder),
        status=http_status,
        content_type="application/json",
        headers=headers,
    )
    response.ocpi_envelope = body  # for the journal, without parsing it again
    return response


def error_response(error: OcpiError) -> HttpResponse:
    return ocpi_response(
        status_code=error.status_code, message=error.message, http_status=error.http_status
    )

"""The `Idempotency-Key` header: a repeated request returns the first response.

Wrap a view handler (a viewset's `create`, an APIView's `post`) with
`idempotent`. The first request with a key claims it and stores its final
response, errors included (a command that timed out may still have reached
the charge point: repeating it is what the key prevents). A repeat by the
same user replays that response with `Idempotent-Replayed: true`; the same
key on a different request is refused (422), and a repeat arriving while the
first is still running gets 409. Anonymous requests are not tracked. A 503
(a service was down, nothing was done) is not stored: the caller retries
with the same key.

A request whose server process died (killed, host gone) never finishes its
record. While in progress, the record names the process serving it (its
node in the service registry); a repeat that finds that process dead takes
the key over and runs: the first request cannot have answered anyone.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging

from django.apps import apps
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Any unique string (e.g. a UUID), at most 255 characters. Sending the same "
        "request again with the same key within 24 hours returns the first response "
        "(with the header `Idempotent-Replayed: true`) and does not repeat the action. "
        "The same key with a different request is refused with 422."
    ),
)


class IdempotencyKeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = _("This Idempotency-Key was already used for a different request.")
    default_code = "idempotency_key_reused"


class IdempotencyInProgress(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("A request with this Idempotency-Key is still in progress.")
    default_code = "idempotency_in_progress"


def _fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, cls=JSONEncoder, default=str)
    return hashlib.sha256(f"{request.method}\n{request.path}\n{body}".encode()).hexdigest()


def _as_json(data):
    return json.loads(json.dumps(data, cls=JSONEncoder))


def _replay(record) -> Response:
    if record.response_body is None:
        response = Response(status=record.status_code)
    else:
        response = Response(record.response_body, status=record.status_code)
    response[REPLAYED_HEADER] = "true"
    return response


# While a record is in progress, its body names the process serving the request.
IN_PROGRESS_ON = "in_progress_on"


def _mark_in_progress_here(record) -> None:
    """Name this process (its node in the service registry) on the claimed record."""
    from monitoring.nodes import current

    type(record).objects.filter(pk=record.pk, status_code__isnull=True).update(
        response_body={IN_PROGRESS_ON: current().node_id}
    )


def _abandoned(record) -> bool:
    """An unfinished record whose serving process is known dead: nobody will finish it."""
    if record.is_complete or not isinstance(record.response_body, dict):
        return False
    from monitoring.liveness import node_known_dead

    return node_known_dead(node_id=str(record.response_body.get(IN_PROGRESS_ON, "")))


def idempotent(handler):
    """Decorate a DRF view handler `(self, request, *args, **kwargs)`."""

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None or not request.user.is_authenticated:
            return handler(view, request, *args, **kwargs)
        key = key.strip()
        if not 0 < len(key) <= MAX_KEY_LENGTH:
            raise ParseError(_("Idempotency-Key must be 1 to 255 characters."))
        if not apps.is_installed("api_support"):
            logger.warning("api_support is not installed: Idempotency-Key ignored")
            return handler(view, request, *args, **kwargs)

        from .services import idempotency_claim, idempotency_complete, idempotency_release

        claim = {
            "user_id": request.user.pk,
            "key": key,
            "method": request.method,
            "path": request.path[:500],
            "fingerprint": _fingerprint(request),
        }
        record, created = idempotency_claim(**claim)
        if not created and _abandoned(record) and record.fingerprint == claim["fingerprint"]:
            idempotency_release(record_id=record.pk)
            record, created = idempotency_claim(**claim)
        if not created:
            if record.fingerprint != claim["fingerprint"]:
                raise IdempotencyKeyReused()
            if not record.is_complete:
                raise IdempotencyInProgress()
            return _replay(record)
        _mark_in_progress_here(record)
        try:
            response = handler(view, request, *args, **kwargs)
        except Exception as exc:
            try:  # the response DRF would make of it, so that it is stored too
                response = view.handle_exception(exc)
            except Exception:
                idempotency_release(record_id=record.pk)
                raise
        if response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE:
            # Nothing was done (a service it needs was down): the key stays free
            # for the retry that Retry-After asks for.
            idempotency_release(record_id=record.pk)
            return response
        idempotency_complete(
            record_id=record.pk, status_code=response.status_code, body=_as_json(response.data)
        )
        return response

    return wrapper

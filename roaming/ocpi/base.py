"""What every OCPI endpoint does: authenticate the partner, read JSON, answer an envelope, journal.

Endpoints are plain Django views: OCPI has its own authentication
(Authorization: Token <base64>), envelope and status codes, none of which
is the REST API's.
"""

from __future__ import annotations

import json
import logging
import time

from django.conf import settings
from django.http import HttpResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from ..choices import Direction, PartyStatus
from ..credential_tokens import authorization_candidates, token_hash
from ..journal import exchange_record
from ..models import Party
from .envelope import (
    CLIENT_ERROR,
    INVALID_PARAMETERS,
    SERVER_ERROR,
    OcpiError,
    error_response,
    ocpi_response,
)

logger = logging.getLogger(__name__)


def ocpi_base_url(request) -> str:
    """Where partners reach our OCPI interface: OCPI_BASE_URL, else this request's host."""
    return settings.OCPI_BASE_URL or request.build_absolute_uri("/ocpi")


def party_authenticate(request, *, registration_allowed: bool) -> tuple[Party, str]:
    """The partner whose credentials token the request carries, and that token.

    Token C of a registered partner opens every module; token A (and the
    token we gave a partner we are registering with) only versions and
    credentials. Anything else is OCPI's 401.
    """
    candidates = authorization_candidates(request.headers.get("Authorization"))
    by_hash = {token_hash(candidate): candidate for candidate in candidates}
    if by_hash:
        party = Party.objects.filter(incoming_token_hash__in=list(by_hash)).first()
        if party is not None and (registration_allowed or party.status == PartyStatus.REGISTERED):
            return party, by_hash[party.incoming_token_hash]
        if registration_allowed:
            party = Party.objects.filter(
                registration_token_hash__in=list(by_hash), status=PartyStatus.PENDING
            ).first()
            if party is not None:
                return party, by_hash[party.registration_token_hash]
    raise OcpiError(401, CLIENT_ERROR, "Unknown or missing credentials token")


@method_decorator(csrf_exempt, name="dispatch")
class OcpiView(View):
    """Base of the OCPI endpoints: handlers return data or raise OcpiError."""

    # Configuration modules (versions, credentials) accept token A; functional ones do not.
    registration_allowed = False
    # Functional modules carry OCPI's routing headers (OCPI-from/-to-*) in the answer.
    functional = True

    def dispatch(self, request, *args, **kwargs):
        started = time.monotonic()
        request.ocpi_party = None
        try:
            if request.method.lower() not in self.http_method_names or not hasattr(
                self, request.method.lower()
            ):
                raise OcpiError(405, CLIENT_ERROR, f"{request.method} is not supported here")
            request.ocpi_party, request.ocpi_token = party_authenticate(
                request, registration_allowed=self.registration_allowed
            )
            request.ocpi_body = self._body(request)
            response = super().dispatch(request, *args, **kwargs)
        except OcpiError as error:
            response = error_response(error)
        except Exception:
            logger.exception("OCPI %s %s failed", request.method, request.path)
            response = error_response(OcpiError(500, SERVER_ERROR, "Internal error"))
        if self.functional:
            self._routing_headers(request, response)
        self._journal(request, response, started)
        return response

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise OcpiError(405, CLIENT_ERROR, f"{request.method} is not supported here")

    @staticmethod
    def _body(request):
        if request.method not in ("POST", "PUT", "PATCH"):
            return None
        try:
            return json.loads(request.body or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            # The spec: a body that is not JSON is HTTP 400; the envelope says 2001.
            raise OcpiError(400, INVALID_PARAMETERS, "The body is not valid JSON") from exc

    @staticmethod
    def _routing_headers(request, response: HttpResponse) -> None:
        # A direct answer: to the party that asked, from us.
        for side in ("country-code", "party-id"):
            asked_from = request.headers.get(f"OCPI-from-{side}")
            if asked_from:
                response[f"OCPI-to-{side}"] = asked_from
        if settings.OCPI_COUNTRY_CODE and settings.OCPI_PARTY_ID:
            response["OCPI-from-country-code"] = settings.OCPI_COUNTRY_CODE
            response["OCPI-from-party-id"] = settings.OCPI_PARTY_ID

    @staticmethod
    def _journal(request, response, started: float) -> None:
        envelope = getattr(response, "ocpi_envelope", None)
        exchange_record(
            direction=Direction.INCOMING,
            party=request.ocpi_party,
            method=request.method,
            url=request.get_full_path(),
            http_status=response.status_code,
            ocpi_status_code=(envelope or {}).get("status_code"),
            request_body=getattr(request, "ocpi_body", None),
            response_body=envelope,
            duration_ms=(time.monotonic() - started) * 1000,
        )


def ok(data=None, **kwargs) -> HttpResponse:
    return ocpi_response(data, **kwargs)

"""Base pieces of every API view: throttling, pagination, idempotent creation."""

from __future__ import annotations

from django.db import transaction
from django.db.models import ProtectedError, RestrictedError
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from .exceptions import ResourceInUse
from .idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from .pagination import ApiPagination
from .throttling import PurposeRateThrottle, RoleRateThrottle, rate_limit_headers


class ApiViewMixin:
    """Mix into every API view (before the DRF class) for the house defaults.

    Throttling per role (plus the view's `throttle_scope`, when it names
    one), pagination, and the rate-limit headers on every answer.
    """

    throttle_classes = [RoleRateThrottle, PurposeRateThrottle]
    pagination_class = ApiPagination

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        for header, value in rate_limit_headers(request, self).items():
            response[header] = value
        return response


class IdempotentCreateMixin:
    """A viewset's `create` honours the Idempotency-Key header."""

    @extend_schema(parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @idempotent
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)


class NotFoundView(ApiViewMixin, APIView):
    """Any unknown path under the API answers a JSON 404, whatever the method."""

    permission_classes = [AllowAny]
    schema = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        raise NotFound()


class ProtectedDestroyMixin:
    """Deleting what history still refers to answers 409, not a server error."""

    def perform_destroy(self, instance):
        try:
            with transaction.atomic():
                instance.delete()
        except (ProtectedError, RestrictedError) as exc:
            raise ResourceInUse() from exc

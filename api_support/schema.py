"""OpenAPI pieces shared by every app's API: error bodies and their examples."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers

from .exceptions import ResourceInUse
from .idempotency import IdempotencyInProgress, IdempotencyKeyReused

ErrorSerializer = inline_serializer(
    name="Error",
    fields={"detail": serializers.CharField()},
)

ValidationErrorSerializer = inline_serializer(
    name="ValidationError",
    fields={
        "field_name": serializers.ListField(
            child=serializers.CharField(),
            help_text="One entry per invalid field (snake_case), each a list of messages; "
            "errors not tied to one field are under `non_field_errors`.",
        )
    },
)


def error(description: str, detail: str) -> OpenApiResponse:
    return OpenApiResponse(
        ErrorSerializer,
        description=description,
        examples=[OpenApiExample(description, value={"detail": detail})],
    )


UNAUTHENTICATED = error("Not signed in", "Authentication credentials were not provided.")
FORBIDDEN = error("Not permitted", "You do not have the permission for this operation.")
NOT_FOUND = error("Not found", "No object matches the given query.")
THROTTLED = error("Too many requests", "Request was throttled. Expected available in 42 seconds.")


def invalid(example: dict) -> OpenApiResponse:
    return OpenApiResponse(
        ValidationErrorSerializer,
        description="Invalid body: the fields and what is wrong with them",
        examples=[OpenApiExample("Invalid body", value=example)],
    )


# The error answers of any authenticated endpoint.
COMMON_ERRORS = {401: UNAUTHENTICATED, 403: FORBIDDEN, 429: THROTTLED}
READ_ERRORS = {**COMMON_ERRORS, 404: NOT_FOUND}


def crud_schema(
    *,
    tag: str,
    serializer,
    noun: str,
    plural: str,
    list_description: str = "",
    writable: bool = True,
    destroy: bool = True,
    invalid_example: dict | None = None,
) -> dict:
    """extend_schema_view() arguments documenting a model viewset's actions."""
    bad_request = invalid(invalid_example or {"name": ["This field is required."]})
    docs = {
        "list": extend_schema(
            tags=[tag],
            summary=f"List {plural}",
            description=list_description,
            responses={200: serializer(many=True), **COMMON_ERRORS},
        ),
        "retrieve": extend_schema(
            tags=[tag], summary=f"Get a {noun}", responses={200: serializer, **READ_ERRORS}
        ),
    }
    if writable:
        docs["create"] = extend_schema(
            tags=[tag],
            summary=f"Create a {noun}",
            responses={
                201: serializer,
                400: bad_request,
                409: error("Idempotency key in use", str(IdempotencyInProgress.default_detail)),
                422: error("Idempotency key reused", str(IdempotencyKeyReused.default_detail)),
                **COMMON_ERRORS,
            },
        )
        for action, verb in (("update", "Replace"), ("partial_update", "Update")):
            docs[action] = extend_schema(
                tags=[tag],
                summary=f"{verb} a {noun}",
                responses={200: serializer, 400: bad_request, **READ_ERRORS},
            )
    if writable and destroy:
        docs["destroy"] = extend_schema(
            tags=[tag],
            summary=f"Delete a {noun}",
            responses={
                204: None,
                409: error("Still referred to", str(ResourceInUse.default_detail)),
                **READ_ERRORS,
            },
        )
    return docs

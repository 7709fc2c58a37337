"""OpenAPI pieces shared by every app's API: the schema class, error bodies and their examples."""

from __future__ import annotations

import inspect

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers

from .exceptions import ResourceInUse
from .idempotency import IdempotencyInProgress, IdempotencyKeyReused


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, describing an operation only by what its view says.

    The stock one falls back on docstrings of base classes and mixins, so
    that dozens of operations were described as "Mix into every API view
    ...". Here only a docstring written on the view class itself, or on the
    handler method it defines itself, becomes a description; everything else
    comes from `extend_schema(summary=..., description=...)`.
    """

    def get_description(self):
        view_class = type(self.view)
        handler_name = getattr(self.view, "action", None) or self.method.lower()
        handler = view_class.__dict__.get(handler_name)
        for candidate in (getattr(handler, "__doc__", None), view_class.__dict__.get("__doc__")):
            if candidate:
                return inspect.cleandoc(candidate)
        return ""


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


def _a(noun: str) -> str:
    """The noun with its indefinite article ("an invoice", "a tariff")."""
    return f"an {noun}" if noun[:1].lower() in "aeio" else f"a {noun}"


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
    """extend_schema_view() arguments documenting a model viewset's actions.

    Every action gets a summary and a description (what it does, what it
    answers besides success); `list_description` says what the list holds.
    """
    bad_request = invalid(invalid_example or {"name": ["This field is required."]})
    docs = {
        "list": extend_schema(
            tags=[tag],
            summary=f"List {plural}",
            description=(list_description or f"The {plural} the caller may see.")
            + "\n\nPaginated; an unknown or invalid filter or ordering value is a 400 "
            "naming the parameter.",
            responses={200: serializer(many=True), **COMMON_ERRORS},
        ),
        "retrieve": extend_schema(
            tags=[tag],
            summary=f"Get {_a(noun)}",
            description=f"One {noun}; 404 when it does not exist or is not the caller's to see.",
            responses={200: serializer, **READ_ERRORS},
        ),
    }
    if writable:
        docs["create"] = extend_schema(
            tags=[tag],
            summary=f"Create {_a(noun)}",
            description=(
                f"Creates {_a(noun)} and answers it (201). With an `Idempotency-Key` "
                "header a repeated request returns the first answer instead of creating "
                "again."
            ),
            responses={
                201: serializer,
                400: bad_request,
                409: error("Idempotency key in use", str(IdempotencyInProgress.default_detail)),
                422: error("Idempotency key reused", str(IdempotencyKeyReused.default_detail)),
                **COMMON_ERRORS,
            },
        )
        for action, verb, how in (
            ("update", "Replace", "Replaces the writable fields: every required field is sent."),
            ("partial_update", "Update", "Changes only the fields sent."),
        ):
            docs[action] = extend_schema(
                tags=[tag],
                summary=f"{verb} {_a(noun)}",
                description=f"{how} Answers the {noun} as stored; 400 names each invalid field.",
                responses={200: serializer, 400: bad_request, **READ_ERRORS},
            )
    if writable and destroy:
        docs["destroy"] = extend_schema(
            tags=[tag],
            summary=f"Delete {_a(noun)}",
            description=(
                f"Deletes the {noun} (204); 409 while sessions, invoices or other "
                "history still refer to it."
            ),
            responses={
                204: None,
                409: error("Still referred to", str(ResourceInUse.default_detail)),
                **READ_ERRORS,
            },
        )
    return docs

"""Every operation of /api/schema/ says what it does, in its own words; errors are components."""

from __future__ import annotations

import inspect

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

ERROR_EXAMPLES = {
    "400": "ValidationFailed",
    "401": "NotAuthenticated",
    "403": "PermissionDenied",
    "404": "NotFound",
    "409": "Conflict",
    "429": "Throttled",
    "503": "ServiceUnavailable",
}


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        return (
            APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
        )


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def inherited_docstrings() -> set[str]:
    """First lines of the docstrings of every API view's base classes and mixins."""
    docs = set()
    generator = SchemaGenerator()
    generator._initialise_endpoints()
    for _path, _regex, _method, view in generator._get_paths_and_endpoints():
        for base in type(view).__mro__[1:]:
            doc = base.__dict__.get("__doc__")
            if doc:
                docs.add(inspect.cleandoc(doc).splitlines()[0])
    return docs


def test_every_operation_has_a_summary_and_a_description(schema):
    missing = [
        name
        for name, operation in operations(schema)
        if not operation.get("summary", "").strip() or not operation.get("description", "").strip()
    ]
    if missing:
        raise AssertionError(
            "operations without a summary or a description (add extend_schema(summary=..., "
            "description=...) to the view):\n" + "\n".join(missing)
        )


def test_no_description_is_a_base_class_docstring(schema):
    foreign = inherited_docstrings()
    assert any(line.startswith("Mix into every API view") for line in foreign)
    leaked = [
        name
        for name, operation in operations(schema)
        if operation.get("description", "").strip()
        and operation["description"].splitlines()[0] in foreign
    ]
    assert leaked == []


def test_summaries_are_unique(schema):
    seen: dict[str, str] = {}
    duplicates = []
    for name, operation in operations(schema):
        summary = operation.get("summary")
        if summary in seen:
            duplicates.append((summary, seen[summary], name))
        seen[summary] = name
    assert duplicates == []


def test_each_error_shape_is_a_reusable_component(schema):
    components = schema["components"]
    for status, example in ERROR_EXAMPLES.items():
        assert example in components["examples"], status
        assert components["examples"][example]["summary"].startswith(status)
    assert components["examples"]["LockedOut"]["value"]["detail"].startswith(
        "Too many failed sign-in attempts"
    )
    responses = components["responses"]
    assert set(responses) >= {
        "BadRequest",
        "NotAuthenticated",
        "PermissionDenied",
        "NotFound",
        "Conflict",
        "TooManyRequests",
        "ServiceUnavailable",
    }
    assert "Retry-After" in responses["TooManyRequests"]["headers"]
    assert "Retry-After" in responses["ServiceUnavailable"]["headers"]
    assert components["schemas"]["ValidationError"]["additionalProperties"] == {}


def test_every_operation_documents_rate_limits_and_the_generic_errors(schema):
    for name, operation in operations(schema):
        responses = operation["responses"]
        assert "429" in responses and "503" in responses, name
        for status, response in responses.items():
            if "$ref" in response:
                continue
            assert "X-RateLimit-Remaining" in response["headers"], (name, status)
        if operation.get("security") and {} not in operation["security"]:
            assert responses["401"] == {"$ref": "#/components/responses/NotAuthenticated"}, name

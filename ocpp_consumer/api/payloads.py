"""The API's snake_case JSON and OCPP's camelCase payloads, both ways.

Key conversion is the `ocpp` package's own (`snake_to_camel_case`,
`camel_to_snake_case`); this module adds turning a schema failure of
`commands.command_validate` back into field errors named like the request.
"""

from __future__ import annotations

import re

from ocpp.charge_point import camel_to_snake_case, snake_to_camel_case

_REQUIRED = re.compile(r"^'([^']+)' is a required property$")
_UNEXPECTED = re.compile(
    r"^Additional properties are not allowed \((.+) (?:was|were) unexpected\)$"
)
_QUOTED = re.compile(r"'([^']+)'")


def to_ocpp(data: dict) -> dict:
    """An API body (snake_case keys, at any depth) as an OCPP payload."""
    return snake_to_camel_case(data)


def from_ocpp(payload: dict | None) -> dict:
    """An OCPP payload with snake_case keys, for the API."""
    return camel_to_snake_case(payload or {})


def snake_key(name: str) -> str:
    return next(iter(camel_to_snake_case({name: None})))


def _field_path(parts: list[str]) -> str:
    return ".".join(part if part.isdigit() else snake_key(part) for part in parts)


def field_errors(description: str) -> dict[str, list[str]]:
    """Turn "<path>: <jsonschema message>" into {"snake.path": [message]}.

    The path is "payload" for an error of the whole object; a missing or
    unexpected property is then reported under that property's own name.
    """
    where, _, message = description.partition(": ")
    parts = [] if where in ("", "payload") else where.split("/")
    if match := _REQUIRED.match(message):
        return {_field_path([*parts, match.group(1)]): ["This field is required."]}
    if match := _UNEXPECTED.match(message):
        names = _QUOTED.findall(match.group(1))
        return {_field_path([*parts, name]): ["Unknown field."] for name in names}
    if not parts:
        return {"non_field_errors": [message or description]}
    return {_field_path(parts): [message]}

"""A command's official OCPP request schema as a tree of form fields.

The typed form is generated from the same JSON schemas the command path
validates against (the `ocpp` package's v16 and v201 schemas, as
`framing` loads them), so that a field the charger expects is never
missing from the form, and nothing else is offered.

Objects become groups of sub-fields (up to MAX_DEPTH levels); everything
else (a scalar, an array, a value of any type) is a leaf: one form field.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from ocpp.messages import MessageType, get_validator

# Vendor extensions (2.0.1 customData): the expert mode sends them.
SKIPPED = frozenset({"customData"})
# Deeper objects are one JSON sub-field (no 2.0.1 request goes deeper than 4).
MAX_DEPTH = 4


@dataclass(frozen=True)
class Leaf:
    """One form field: a property that is not an object (or too deep to split)."""

    path: tuple[str, ...]
    schema: dict
    required: bool  # in its own object

    @property
    def name(self) -> str:
        """The form field's name: the path joined with "__" ("idToken__idToken")."""
        return "__".join(self.path)


@dataclass(frozen=True)
class Group:
    """An object of the request: its properties, in the schema's order."""

    path: tuple[str, ...]
    required: bool
    children: tuple[Leaf | Group, ...]
    description: str = ""

    def leaves(self) -> list[Leaf]:
        found: list[Leaf] = []
        for child in self.children:
            found.extend(child.leaves() if isinstance(child, Group) else [child])
        return found


def request_schema(action: str, version: str) -> dict:
    return get_validator(MessageType.Call, action, version).schema


@cache
def request_tree(action: str, version: str) -> Group:
    """The request of `action` in `version` as a Group (its root has the empty path)."""
    schema = request_schema(action, version)
    return _group(schema, schema, path=(), required=True)


def _resolve(schema: dict, root: dict) -> dict:
    """Follow "$ref": "#/definitions/X" (the 2.0.1 schemas use them)."""
    seen = 0
    while "$ref" in schema and seen < 10:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = root.get("definitions", {}).get(name, {})
        seen += 1
    return schema


def _group(schema: dict, root: dict, *, path: tuple[str, ...], required: bool) -> Group:
    needed = set(schema.get("required", ()))
    children: list[Leaf | Group] = []
    for name, prop in schema.get("properties", {}).items():
        if name in SKIPPED:
            continue
        prop = _resolve(prop, root)
        child_path = (*path, name)
        if prop.get("type") == "object" and prop.get("properties") and len(path) < MAX_DEPTH:
            children.append(_group(prop, root, path=child_path, required=name in needed))
        else:
            children.append(Leaf(child_path, _resolved_items(prop, root), name in needed))
    return Group(path, required, tuple(children), description_text(schema))


def _resolved_items(prop: dict, root: dict) -> dict:
    """An array's item schema resolved, so that a leaf needs no root to be read."""
    if prop.get("type") == "array" and isinstance(prop.get("items"), dict):
        return {**prop, "items": _resolve(prop["items"], root)}
    return prop


_SPEC_LINE = re.compile(r"^(urn:|[A-Z][\w]*_ .*\.|[A-Z][\w ]*_ [\w_ .]*$)")


def description_text(schema: dict) -> str:
    """The readable part of a 2.0.1 description (not the data dictionary's names and URNs)."""
    raw = schema.get("description") or ""
    lines = [html.unescape(line.strip()) for line in raw.replace("\r", "").split("\n")]
    return " ".join(line for line in lines if line and not _SPEC_LINE.match(line))


def enum_values(schema: dict) -> list[Any] | None:
    values = schema.get("enum")
    return list(values) if isinstance(values, list) else None

"""Relaxations of strict OCPP 1.6 for chargers that need them (per profile).

Strict is the default. Each relaxation is named on
stations.models.CompatibilityProfile and applied here before the payload is
validated; docs/OCPP.md ("Protocol conformance") lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_ID_TAG_ACTIONS = frozenset({"Authorize", "StartTransaction", "StopTransaction"})
_KWH_FIELDS = {"StartTransaction": "meterStart", "StopTransaction": "meterStop"}


@dataclass(frozen=True)
class Relaxations:
    numbers_as_strings: bool = False
    truncate_long_strings: bool = False
    ignore_unknown_fields: bool = False
    id_tag_suffix: str = ""
    meter_in_kwh: bool = False

    @classmethod
    def from_profile(cls, profile) -> Relaxations:
        if profile is None:
            return STRICT
        relax = cls(
            numbers_as_strings=profile.numbers_as_strings,
            truncate_long_strings=profile.truncate_long_strings,
            ignore_unknown_fields=profile.ignore_unknown_fields,
            id_tag_suffix=profile.id_tag_suffix,
            meter_in_kwh=profile.meter_in_kwh,
        )
        # STRICT itself when nothing is relaxed: validation skips the repairs.
        return STRICT if relax == STRICT else relax

    @property
    def touches_schema(self) -> bool:
        return self.numbers_as_strings or self.truncate_long_strings or self.ignore_unknown_fields


STRICT = Relaxations()


def relax_action(action: str, payload: dict, relax: Relaxations) -> dict:
    """Action-specific repairs: id tag suffix, kWh meter readings."""
    if relax.id_tag_suffix and action in _ID_TAG_ACTIONS:
        id_tag = payload.get("idTag")
        suffix = relax.id_tag_suffix
        if isinstance(id_tag, str) and len(id_tag) > len(suffix) and id_tag.endswith(suffix):
            payload = {**payload, "idTag": id_tag[: -len(suffix)]}
    field = _KWH_FIELDS.get(action)
    if relax.meter_in_kwh and field and type(payload.get(field)) in (int, float):
        payload = {**payload, field: round(payload[field] * 1000)}
    return payload


def relax_by_schema(schema: dict, value: Any, relax: Relaxations, *, required: bool = True) -> Any:
    """Schema-driven repairs: numbers as strings, long strings, unknown fields."""
    kind = schema.get("type")
    if kind == "object" and isinstance(value, dict):
        properties = schema.get("properties", {})
        mandatory = set(schema.get("required", ()))
        relaxed = {}
        for key, item in value.items():
            if key in properties:
                relaxed[key] = relax_by_schema(
                    properties[key], item, relax, required=key in mandatory
                )
            elif not (relax.ignore_unknown_fields and schema.get("additionalProperties") is False):
                relaxed[key] = item
        return relaxed
    if kind == "array" and isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [relax_by_schema(schema["items"], item, relax) for item in value]
    if kind == "string":
        if relax.numbers_as_strings and type(value) in (int, float):
            value = str(value)
        limit = schema.get("maxLength")
        free_text = "enum" not in schema and "format" not in schema
        if (
            relax.truncate_long_strings
            and not required
            and free_text
            and isinstance(value, str)
            and limit is not None
            and len(value) > limit
        ):
            value = value[:limit]
    return value

"""Rows in a table's column order: the generated values first, every other column its default."""

from __future__ import annotations

import json
from decimal import Decimal

from django.db import models


class Table:
    """The columns of `model`: `given` (field names, in the order rows supply them), then the
    rest at their model default (auto_now fields: `now`)."""

    def __init__(self, model, given: tuple[str, ...], *, now: str):
        self.model = model
        by_name = {field.name: field for field in model._meta.concrete_fields}
        unknown = [name for name in given if name not in by_name]
        if unknown:
            raise ValueError(f"{model.__name__} has no field {unknown}")
        rest = [field for name, field in by_name.items() if name not in given]
        self.columns = tuple(by_name[name].column for name in given) + tuple(
            field.column for field in rest
        )
        self.constants = tuple(_default(field, now) for field in rest)

    def row(self, *values) -> tuple:
        return values + self.constants


def _default(field: models.Field, now: str):
    if isinstance(field, models.DateTimeField) and (field.auto_now or field.auto_now_add):
        return now
    if field.primary_key:
        raise ValueError(f"{field.model.__name__}.{field.name}: the generator gives primary keys")
    value = field.get_default()
    if value is None and not field.null:
        raise ValueError(f"{field.model.__name__}.{field.name} needs a generated value")
    if isinstance(field, models.JSONField):
        return None if value is None else json.dumps(value)
    if isinstance(value, Decimal):
        return str(value)
    return value

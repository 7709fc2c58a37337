"""Serializer output without DRF's per-field machinery, value for value the same.

DRF's `Serializer.to_representation` asks every readable field of every row
for its attribute (a generic walk with a Mapping check and a callable check
per step) and then for its representation (a method call; for a datetime a
time zone lookup per value). On a page of 500 sessions or 50 stations with
their EVSEs that walk was most of the serialisation time.

`RowPlanMixin` (before the DRF base class) compiles, once per serializer
instance and type of row, a plan of the readable fields: how to read each
value (an attrgetter, an itemgetter, the row itself for method fields, the
key of a foreign key) and how to represent it: `int`, `str`, the datetime in
ISO 8601, ... only where that is exactly what the field's own
`to_representation` does, the field's bound `to_representation` otherwise.
Anything unusual on a row (a missing attribute or key, a callable value) takes
DRF's own path for that field, so defaults, `SkipField` and errors stay DRF's.
A serializer instance lives for one request: the time zone of its datetimes
is the one active when it first represents a row, as DRF would read it.

`general_path()` switches the plans off in a block: the tests compare both.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import decimal
from collections.abc import Callable
from operator import attrgetter, itemgetter

from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from django.db.models.manager import BaseManager
from rest_framework import ISO_8601, fields, relations, serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject
from rest_framework.settings import api_settings

_PLANS_ON = contextvars.ContextVar("row_plans_on", default=True)
_DRF = object()  # a field this row must take DRF's path for
_NO_PLANS: dict = {}


@contextlib.contextmanager
def general_path():
    """DRF's field-by-field serialisation inside the block (for comparisons)."""
    token = _PLANS_ON.set(False)
    try:
        yield
    finally:
        _PLANS_ON.reset(token)


# Represents rows with a plan compiled once per serializer (see the module). No
# docstring: drf-spectacular would show it as the description of every
# serializer that has none of its own.
class RowPlanMixin:
    def to_representation(self, instance):
        if not _PLANS_ON.get():
            return super().to_representation(instance)
        plan = self.__dict__.get("_row_plans", _NO_PLANS).get(type(instance))
        if plan is None:
            plan = row_plan(self, type(instance))
        return plan(instance)


def row_plan(serializer: serializers.Serializer, row_type: type) -> Callable[[object], dict]:
    """The serializer's compiled representation of rows of this type."""
    plans = serializer.__dict__.setdefault("_row_plans", {})
    plan = plans.get(row_type)
    if plan is None:
        plan = plans[row_type] = _compile(serializer, row_type)
    return plan


def _compile(serializer, row_type: type) -> Callable[[object], dict]:
    steps = [
        (field.field_name, *_step(field, row_type), field) for field in serializer._readable_fields
    ]

    def represent(instance) -> dict:
        ret = {}
        for name, read, convert, field in steps:
            if read is None:
                value = _DRF
            else:
                try:
                    value = read(instance)
                except ObjectDoesNotExist:  # as DRF: a missing related object is None
                    value = None
                except (AttributeError, KeyError):
                    value = _DRF  # DRF decides: a default, None, SkipField or its error
                else:
                    if callable(value) and not isinstance(value, BaseManager):
                        value = _DRF  # a method to call (or to refuse): DRF knows how
            if value is _DRF:
                try:
                    attribute = field.get_attribute(instance)
                except SkipField:
                    continue
                check = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
                ret[name] = None if check is None else field.to_representation(attribute)
            else:
                ret[name] = None if value is None else convert(value)
        return ret

    return represent


def _the_row(instance):
    return instance


def _identity(value):
    return value


def _step(field: fields.Field, row_type: type) -> tuple[Callable | None, Callable]:
    """How to read the field's value from a row (None: DRF's get_attribute every
    time), and how to represent what was read."""
    pk_attname = _pk_only_attname(field, row_type)
    if pk_attname is not None:
        return attrgetter(pk_attname), _identity  # DRF: PKOnlyObject(the key).pk
    return _reader(field, row_type), _representer(field)


def _reader(field: fields.Field, row_type: type) -> Callable[[object], object] | None:
    get_attribute = type(field).get_attribute
    if get_attribute is relations.RelatedField.get_attribute:
        if field.use_pk_only_optimization():
            return None  # a key read as DRF does it (see _pk_only_attname for the usual one)
    elif get_attribute is not fields.Field.get_attribute:
        return None  # e.g. a many=True related field: its own way
    attrs = field.source_attrs
    if not attrs:  # source="*" and method fields: the row itself
        return _the_row
    if issubclass(row_type, dict):
        return itemgetter(attrs[0]) if len(attrs) == 1 else None
    return attrgetter(".".join(attrs))


def _pk_only_attname(field, row_type: type) -> str | None:
    """The column holding a foreign key's value, for a field that shows just that key."""
    if not (
        isinstance(field, relations.PrimaryKeyRelatedField)
        and type(field).get_attribute is relations.RelatedField.get_attribute
        and type(field).to_representation is relations.PrimaryKeyRelatedField.to_representation
        and field.use_pk_only_optimization()
        and field.pk_field is None
        and len(field.source_attrs) == 1
        and issubclass(row_type, models.Model)
    ):
        return None
    try:
        model_field = row_type._meta.get_field(field.source_attrs[0])
    except FieldDoesNotExist:
        return None
    if model_field.concrete and (model_field.many_to_one or model_field.one_to_one):
        return model_field.attname  # what DRF's serializable_value() reads
    return None  # e.g. a reverse relation: DRF reads the related object


def _representer(field: fields.Field) -> Callable[[object], object]:
    """The field's `to_representation`, or a shorter way to the same value."""
    method = type(field).to_representation
    if method is fields.IntegerField.to_representation:
        return int
    if method is fields.BigIntegerField.to_representation and not getattr(
        field, "coerce_to_string", api_settings.COERCE_BIGINT_TO_STRING
    ):
        return int
    if method is fields.CharField.to_representation:
        return str
    if method is fields.ChoiceField.to_representation:
        return _choice(field)
    if method is fields.BooleanField.to_representation:
        return _boolean(field.to_representation)
    if method is fields.DateTimeField.to_representation:
        return _datetime(field)
    if method is fields.DecimalField.to_representation:
        return _decimal(field)
    if method is fields.JSONField.to_representation and not field.binary:
        return _identity
    if method is fields.ReadOnlyField.to_representation:
        return _identity
    if isinstance(field, fields.SerializerMethodField):
        return getattr(field.parent, field.method_name)
    return field.to_representation


def _choice(field: fields.ChoiceField):
    fallback = field.to_representation

    def represent(value):
        # A plain string is its own str(): DRF's lookup without the Enum checks.
        if type(value) is str:
            return field.choice_strings_to_values.get(value, value) if value else value
        return fallback(value)

    return represent


def _boolean(fallback):
    def represent(value):
        return value if value is True or value is False else fallback(value)

    return represent


def _datetime(field: fields.DateTimeField):
    fallback = field.to_representation
    output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
    if output_format is None or output_format.lower() != ISO_8601:
        return fallback
    zone = field.timezone if hasattr(field, "timezone") else field.default_timezone()
    if zone is None:
        return fallback

    def represent(value):
        if isinstance(value, datetime.datetime) and value.utcoffset() is not None:
            try:
                text = value.astimezone(zone).isoformat()
            except OverflowError:
                return fallback(value)
            return text[:-6] + "Z" if text.endswith("+00:00") else text
        return fallback(value)

    return represent


def _decimal(field: fields.DecimalField):
    fallback = field.to_representation
    coerce = getattr(field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
    places, digits = field.decimal_places, field.max_digits
    if not coerce or field.localize or field.normalize_output or places is None or not digits:
        return fallback
    exponent = -places

    def represent(value):
        # A value with the field's places already is what quantize() gives back.
        if type(value) is decimal.Decimal:
            shape = value.as_tuple()
            if shape.exponent == exponent and len(shape.digits) <= digits:
                return f"{value:f}"
        return fallback(value)

    return represent

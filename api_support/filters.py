"""Strict list filters: a filter value that cannot be applied is a 400 naming it.

django-filter turns a boolean it cannot read (`?is_open=maybe`) into "no
filter", and DRF's ordering drops unknown fields (`?ordering=bogus`): both
answered everything, as if the filter had matched. Here both are the
client's 400, `{"is_open": ["Must be true or false."]}` and
`{"ordering": ["Unknown field 'bogus'. Allowed: ..."]}`. Configured for
every list in REST_FRAMEWORK["DEFAULT_FILTER_BACKENDS"].
"""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter

# Booleans as clients write them; django-filter reads only some of these.
_BOOLEAN_SPELLINGS = {
    "true": "true",
    "1": "true",
    "yes": "true",
    "on": "true",
    "false": "false",
    "0": "false",
    "no": "false",
    "off": "false",
}
# What an unreadable boolean becomes: read as "no value", hence refused.
_NOT_A_BOOLEAN = "not-a-boolean"


def _is_boolean(filter_) -> bool:
    return isinstance(filter_, django_filters.BooleanFilter)


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter, with values it would ignore refused instead (400 by field)."""

    def get_filterset_kwargs(self, request, queryset, view):
        kwargs = super().get_filterset_kwargs(request, queryset, view)
        filterset_class = self.get_filterset_class(view, queryset)
        booleans = [
            name
            for name, filter_ in (filterset_class.base_filters.items() if filterset_class else ())
            if _is_boolean(filter_)
        ]
        data = kwargs["data"]
        if any(name in data for name in booleans):
            data = data.copy()
            for name in booleans:
                raw = data.get(name, "").strip().lower()
                if raw:
                    # Anything else (Django's widget also reads "2" and "3") is refused.
                    data[name] = _BOOLEAN_SPELLINGS.get(raw, _NOT_A_BOOLEAN)
            kwargs["data"] = data
        return kwargs

    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        errors = filter_errors(filterset)
        if errors:
            raise ValidationError(errors)
        return filterset.qs


def filter_errors(filterset) -> dict[str, list[str]]:
    """The problems of a filterset's query: the form's errors and the values it dropped."""
    form = filterset.form
    errors = {name: list(messages) for name, messages in form.errors.items()}
    for name, filter_ in filterset.filters.items():
        if name in errors:
            continue
        raw = form.data.get(name)
        if not isinstance(raw, str) or not raw.strip():
            continue
        if form.cleaned_data.get(name) in (None, ""):
            # Given, but read as "no value": the filter would be skipped.
            errors[name] = [
                _("Must be true or false.")
                if _is_boolean(filter_)
                else _("%(value)r is not a valid value.") % {"value": raw}
            ]
    return errors


class StrictOrderingFilter(OrderingFilter):
    """`?ordering=` with a field the view cannot order by is a 400 listing the allowed ones."""

    def get_ordering(self, request, queryset, view):
        params = request.query_params.get(self.ordering_param)
        if not params or not params.strip():
            return self.get_default_ordering(view)
        terms = [term.strip() for term in params.split(",")]
        allowed = [
            name for name, _label in self.get_valid_fields(queryset, view, {"request": request})
        ]
        unknown = [term for term in terms if term.removeprefix("-") not in allowed]
        if unknown:
            raise ValidationError(
                {
                    self.ordering_param: [
                        _(
                            "Unknown field %(fields)s. Allowed: %(allowed)s "
                            "(prefix a field with - for descending order; separate several "
                            "with commas)."
                        )
                        % {
                            "fields": ", ".join(repr(term) for term in unknown),
                            "allowed": ", ".join(allowed) or "-",
                        }
                    ]
                }
            )
        return with_tiebreak(terms)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        fields = getattr(view, "ordering_fields", self.ordering_fields)
        if not isinstance(fields, list | tuple):
            return parameters  # fields of the answer: known only per request
        names = [field if isinstance(field, str) else field[0] for field in fields]
        for parameter in parameters:
            if parameter["name"] != self.ordering_param:
                continue
            parameter["description"] = str(
                _(
                    "Order by these fields, separated by commas; prefix a field with - for "
                    "descending order. Allowed: %(allowed)s. Anything else is a 400."
                )
                % {"allowed": ", ".join(names)}
            )
            parameter["schema"] = {
                "type": "array",
                "items": {
                    "type": "string",
                    "enum": [term for name in names for term in (name, f"-{name}")],
                },
            }
            parameter["style"] = "form"
            parameter["explode"] = False
        return parameters


def with_tiebreak(terms: list[str]) -> list[str]:
    """The ordering, then the primary key in the direction of its last term.

    Rows equal in the ordered fields (many sessions of the same energy) then
    come in one order on every page, and an index on (field, id) serves it.
    """
    if not terms or any(term.removeprefix("-") in ("pk", "id") for term in terms):
        return terms
    return [*terms, "-pk" if terms[-1].startswith("-") else "pk"]


class UpdatedFilterSet(django_filters.FilterSet):
    """`?updated_since=` (inclusive) and `?updated_before=` (exclusive) on `updated_at`.

    For incremental sync (docs/API.md): the rows changed in a window, served by
    the model's (updated_at, id) index; with `?page_mode=cursor` a walk in that order.
    """

    updated_since = django_filters.IsoDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        label=_("changed at or after this moment (ISO 8601)"),
    )
    updated_before = django_filters.IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="lt", label=_("changed before this moment (ISO 8601)")
    )

"""`?search=` that stays on the listed table's indexes at millions of rows.

DRF's SearchFilter ORs `field__icontains` over the view's `search_fields`;
a field behind a foreign key (`charge_point__charge_point_id`) becomes a
join, and an OR spanning two tables can use no index: PostgreSQL read every
session of a 1,000,000-row table to find one id tag (0.7 s). Here such a
field is first looked up in its own (small) table, and the listed table is
filtered by the keys found (`charge_point_id IN (3, 17)`; a longer path is
joined in that lookup, not in the list's query): every branch of
the OR is then a condition on the listed table that an index answers (the
trigram indexes of the text columns, the foreign key's b-tree), combined by
a bitmap OR. When more related rows match than `RELATED_KEYS_LIMIT`, the
branch stays a subquery (correct, only slower).
"""

from __future__ import annotations

import operator
from functools import reduce

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models.constants import LOOKUP_SEP
from rest_framework.filters import SearchFilter

# Keys of related rows inlined into the query; above this a subquery serves.
RELATED_KEYS_LIMIT = 1_000


def _forward_relation(model, name):
    """The forward many-to-one / one-to-one field `name` of `model`, else None."""
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    if field.is_relation and (field.many_to_one or field.one_to_one) and field.concrete:
        return field
    return None


class IndexedSearchFilter(SearchFilter):
    """SearchFilter whose branches through a foreign key filter by that key."""

    def filter_queryset(self, request, queryset, view):
        search_fields = self.get_search_fields(view, request)
        search_terms = self.get_search_terms(request)
        if not search_fields or not search_terms:
            return queryset
        if self.must_call_distinct(queryset, search_fields):
            # Many-to-many paths: DRF's own handling (EXISTS) is right there.
            return super().filter_queryset(request, queryset, view)
        lookups = [self.construct_search(str(field), queryset) for field in search_fields]
        conditions = [
            reduce(
                operator.or_, (self._condition(queryset.model, lookup, term) for lookup in lookups)
            )
            for term in search_terms
        ]
        return queryset.filter(reduce(operator.and_, conditions))

    def _condition(self, model, lookup: str, term: str) -> models.Q:
        first, _, rest = lookup.partition(LOOKUP_SEP)
        relation = _forward_relation(model, first) if rest else None
        if relation is None:
            return models.Q(**{lookup: term})
        target = relation.target_field.attname
        related = relation.related_model._base_manager.filter(**{rest: term}).values_list(
            target, flat=True
        )
        keys = list(related[: RELATED_KEYS_LIMIT + 1])
        if len(keys) > RELATED_KEYS_LIMIT:
            return models.Q(**{f"{relation.attname}__in": related})
        return models.Q(**{f"{relation.attname}__in": keys})

"""Query filters of the drivers API (django-filter)."""

from __future__ import annotations

import django_filters as filters
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from api_support.filters import UpdatedFilterSet

from .choices import AuthorizationStatus
from .models import Driver, IdTag, User


class IdTagFilterSet(UpdatedFilterSet):
    status = filters.ChoiceFilter(choices=AuthorizationStatus.choices)
    driver = filters.NumberFilter(field_name="driver_id", label=_("driver id"))
    has_driver = filters.BooleanFilter(
        field_name="driver", lookup_expr="isnull", exclude=True, label=_("belongs to a driver")
    )
    parent_id_tag = filters.CharFilter(field_name="parent__id_tag", lookup_expr="iexact")
    expires_before = filters.IsoDateTimeFilter(field_name="expiry_date", lookup_expr="lt")
    expires_after = filters.IsoDateTimeFilter(field_name="expiry_date", lookup_expr="gte")

    class Meta:
        model = IdTag
        fields: list[str] = []


class DriverFilterSet(filters.FilterSet):
    is_active = filters.BooleanFilter(field_name="user__is_active")
    email = filters.CharFilter(method="filter_email")
    id_tag = filters.CharFilter(field_name="id_tags__id_tag", lookup_expr="iexact", distinct=True)
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Driver
        fields: list[str] = []

    def filter_email(self, queryset, name, value):
        # lower(email) where it is not blank: the terms of the accounts' unique index, so that
        # the index answers (Django's iexact compares UPPER(), which no index serves).
        if not value:
            return queryset
        matching = User.objects.exclude(email="").alias(email_lower=Lower("email"))
        return queryset.filter(user__in=matching.filter(email_lower=value.lower()))

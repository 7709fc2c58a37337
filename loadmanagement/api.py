"""Load management in the HTTP API: a station's grid limit, its allocation, its schedule.

- `grid_limit_w` on the stations serializer (GridLimitFieldMixin), writable by operators;
- `GET stations/{id}/allocation/`: the allocation in force (drivers: their own sessions);
- `GET|PATCH|DELETE stations/{id}/load-management/`: every setting of the site, the
  stations sharing its connection (operators);
- `GET|PUT stations/{id}/limit-schedule/`: lower limits for a while, e.g. from an
  energy management system (operators).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.response import Response

from api_support.permissions import is_operator
from api_support.schema import COMMON_ERRORS, READ_ERRORS, invalid
from api_support.views import ApiViewMixin
from stations.locations import station_visible_q
from stations.models import Station

from . import selectors, services
from .models import LimitSource, SiteLimit, SiteStation
from .tasks import clear_profiles, dispatch_site

TAG = "load management"


class GridLimitFieldMixin(serializers.Serializer):
    """`grid_limit_w` of a station: its site limit's, shown to and set by operators."""

    grid_limit_w = serializers.IntegerField(
        source="site_limit.grid_limit_w",
        allow_null=True,
        required=False,
        min_value=0,
        help_text="Power (W) the site's grid connection allows; the CSMS shares it among "
        "the running sessions with charging profiles. null: no limit. Operators only.",
    )

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not self.context.get("include_unaccepted", True):
            data.pop("grid_limit_w", None)  # the site's connection is the operator's business
        elif "grid_limit_w" in data and getattr(instance, "site_limit", None) is None:
            data["grid_limit_w"] = _group_grid_limit_w(instance)
        return data

    def to_internal_value(self, data):
        # Kept aside: the station's own validation sees only the station's fields.
        attrs = super().to_internal_value(data)
        self._site_limit_change = attrs.pop("site_limit", None)
        return attrs

    def create(self, validated_data):
        limit = getattr(self, "_site_limit_change", None)
        with transaction.atomic():
            station = super().create(validated_data)
            self._limit_set(station, limit)
        return station

    def update(self, instance, validated_data):
        limit = getattr(self, "_site_limit_change", None)
        with transaction.atomic():
            station = super().update(instance, validated_data)
            self._limit_set(station, limit)
        return station

    @staticmethod
    def _limit_set(station, limit: dict | None) -> None:
        if limit is None:
            return
        try:
            station.site_limit = services.site_limit_set(
                station_id=station.pk, grid_limit_w=limit["grid_limit_w"]
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc
        _dispatch_after_commit(station.pk)


def _group_grid_limit_w(station) -> int | None:
    """The grid limit of the site a station belongs to as a member of a group."""
    if hasattr(station, "group_grid_limit_w"):
        return station.group_grid_limit_w  # annotated by with_grid_limits
    site = selectors.site_limit_get(station_id=station.pk) if station.pk else None
    return None if site is None else site.grid_limit_w


def with_grid_limits(stations: QuerySet[Station]) -> QuerySet[Station]:
    """Stations with their own site, and the grid limit of the group they are part of."""
    group = SiteStation.objects.filter(station=OuterRef("pk")).values("site__grid_limit_w")[:1]
    return stations.select_related("site_limit").annotate(group_grid_limit_w=Subquery(group))


def _dispatch_after_commit(station_id: int) -> None:
    transaction.on_commit(lambda: dispatch_site.delay(station_id))


class SessionAllocationSerializer(serializers.Serializer):
    transaction = serializers.IntegerField(source="transaction_id")
    allocated_w = serializers.IntegerField()
    measured_w = serializers.IntegerField(allow_null=True)
    current_a = serializers.DecimalField(max_digits=6, decimal_places=1)
    connector_id = serializers.IntegerField(source="transaction.connector.connector_id")
    charge_point = serializers.CharField(source="transaction.charge_point.charge_point_id")
    state = serializers.CharField(help_text="pending, accepted, rejected, no_answer, unsupported")
    reason = serializers.CharField(
        help_text="share, charger_max, measured, phase_limit, waiting, uncontrolled, no_limit, "
        "tou_waiting, tou_planned"
    )
    priority = serializers.IntegerField()


class AllocationSerializer(serializers.Serializer):
    grid_limit_w = serializers.IntegerField(allow_null=True)
    allocated_w = serializers.IntegerField()
    measured_w = serializers.IntegerField(allow_null=True)
    sessions = SessionAllocationSerializer(many=True)


def _station_for(request, pk: int) -> Station:
    stations = Station.objects.filter(station_visible_q(operator=is_operator(request.user)))
    return get_object_or_404(stations, pk=pk)


class AllocationView(ApiViewMixin, generics.GenericAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = AllocationSerializer
    pagination_class = None
    # The station is read by each method; OPTIONS (DRF's metadata) asks for a
    # queryset to look an object up in and finds none: no form to describe.
    queryset = SiteLimit.objects.none()

    @extend_schema(
        tags=[TAG],
        summary="The power allocation of a station",
        description=(
            "The limit in force (grid limit, or a lower scheduled one), the power allocated "
            "to the running sessions and what they draw (latest meter values). Operators see "
            "every session; a driver sees their own sessions only, and totals over them."
        ),
        responses={200: AllocationSerializer, **READ_ERRORS},
    )
    def get(self, request, pk: int):
        station = _station_for(request, pk)
        driver = None if is_operator(request.user) else request.user.pk
        view = selectors.site_allocation(station_id=station.pk, driver_user_id=driver)
        if driver is not None:
            own = view.sessions
            measured = [row.measured_w for row in own if row.measured_w is not None]
            view = selectors.SiteAllocationView(
                grid_limit_w=view.grid_limit_w,
                allocated_w=sum(row.allocated_w for row in own),
                measured_w=sum(measured) if measured else None,
                sessions=own,
            )
        return Response(AllocationSerializer(view).data)


class OperatorsWrite(BasePermission):
    """Reads and writes for operators with the load management permissions; no drivers."""

    message = _("Only operators manage site limits.")

    def has_permission(self, request, view):
        user = request.user
        if not is_operator(user):
            return False
        if request.method in SAFE_METHODS:
            verb = "view"
        else:
            verb = "delete" if request.method == "DELETE" else "change"
        return user.has_perm(f"loadmanagement.{verb}_sitelimit")


class SiteLimitSerializer(serializers.ModelSerializer):
    station = serializers.IntegerField(
        source="station_id",
        read_only=True,
        help_text="The site's own station (its first member; it cannot leave the site).",
    )
    stations = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        allow_empty=False,
        help_text="Every station behind the site's grid connection (ids), its own first; "
        "writing it sets the group. A station belongs to at most one site; one that leaves "
        "has the profiles load management installed on its chargers cleared.",
    )

    class Meta:
        model = SiteLimit
        fields = [
            "station",
            "stations",
            "grid_limit_w",
            "phase_current_limit_a",
            "voltage_v",
            "safety_margin_percent",
            "min_current_a",
            "default_charger_max_w",
            "fallback_limit_w",
            "enabled",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if instance.pk is None:
            data["stations"] = [instance.station_id]
        else:
            data["stations"] = selectors.site_station_ids(site=instance)
        return data


class SiteLimitView(ApiViewMixin, generics.GenericAPIView):
    permission_classes = [OperatorsWrite]
    serializer_class = SiteLimitSerializer
    pagination_class = None
    # The station is read by each method; OPTIONS (DRF's metadata) asks for a
    # queryset to look an object up in and finds none: no form to describe.
    queryset = SiteLimit.objects.none()

    def _site(self, pk: int) -> SiteLimit | None:
        _station_for(self.request, pk)
        return selectors.site_limit_get(station_id=pk)

    @extend_schema(
        tags=[TAG],
        summary="A station's load management settings",
        description="Defaults when none were set yet.",
        responses={200: SiteLimitSerializer, **READ_ERRORS},
    )
    def get(self, request, pk: int):
        site = self._site(pk) or SiteLimit(station_id=pk)
        return Response(SiteLimitSerializer(site).data)

    @extend_schema(
        tags=[TAG],
        summary="Delete a station's site",
        description="The site the station is part of goes (its limits, schedule, journal), "
        "after ClearChargingProfile has been asked of its chargers for every profile load "
        "management installed there.",
        responses={204: None, **COMMON_ERRORS},
    )
    def delete(self, request, pk: int):
        site = self._site(pk)
        if site is None:
            raise Http404
        with transaction.atomic():
            services.site_delete(site_id=site.pk)
            transaction.on_commit(lambda: clear_profiles.delay())
        return Response(status=204)

    @extend_schema(
        tags=[TAG],
        summary="Set a station's load management settings",
        description="Every field is optional; the site is recomputed and profiles are sent.",
        request=SiteLimitSerializer,
        responses={
            200: SiteLimitSerializer,
            400: invalid({"stations": ["Station 12 already belongs to the site of Depot."]}),
            **READ_ERRORS,
        },
    )
    def patch(self, request, pk: int):
        site = self._site(pk)
        serializer = SiteLimitSerializer(site, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        station_ids = changes.pop("stations", None)
        with transaction.atomic():
            try:
                site = services.site_limit_set(station_id=pk, **changes)
                if station_ids is not None:
                    site = services.site_stations_set(station_id=pk, station_ids=station_ids)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc
            _dispatch_after_commit(site.station_id)
        return Response(SiteLimitSerializer(site).data)


class TimedEntrySerializer(serializers.Serializer):
    """An entry of a table replaced as a whole (loadmanagement.models.TimedEntry)."""

    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()

    def validate(self, attrs):
        if attrs["ends_at"] <= attrs["starts_at"]:
            raise serializers.ValidationError({"ends_at": _("Must be after starts_at.")})
        return attrs


class ScheduleEntrySerializer(TimedEntrySerializer):
    limit_w = serializers.IntegerField(min_value=0)
    source = serializers.CharField(read_only=True)


class ScheduleSerializer(serializers.Serializer):
    entries = ScheduleEntrySerializer(many=True)
    source = serializers.ChoiceField(choices=LimitSource.choices, default=LimitSource.EMS)


class LimitScheduleView(ApiViewMixin, generics.GenericAPIView):
    permission_classes = [OperatorsWrite]
    serializer_class = ScheduleSerializer
    pagination_class = None
    # The station is read by each method; OPTIONS (DRF's metadata) asks for a
    # queryset to look an object up in and finds none: no form to describe.
    queryset = SiteLimit.objects.none()

    @extend_schema(
        tags=[TAG],
        summary="A station's limit schedule",
        description="Lower limits for a while (from now on); the lowest in force applies, "
        "never above the grid limit.",
        responses={200: ScheduleSerializer, **READ_ERRORS},
    )
    def get(self, request, pk: int):
        _station_for(request, pk)
        site = selectors.site_limit_get(station_id=pk)
        entries = [] if site is None else list(site.schedule.filter(ends_at__gt=timezone.now()))
        return Response({"entries": ScheduleEntrySerializer(entries, many=True).data})

    @extend_schema(
        tags=[TAG],
        summary="Replace a station's limit schedule",
        description="Replaces every entry not yet over (e.g. an energy management system's "
        "plan for the next hours); the site is recomputed at once.",
        request=ScheduleSerializer,
        responses={
            200: ScheduleSerializer,
            400: invalid({"entries": {"0": {"ends_at": ["Must be after starts_at."]}}}),
            **COMMON_ERRORS,
        },
    )
    def put(self, request, pk: int):
        _station_for(request, pk)
        serializer = ScheduleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        items = [services.ScheduleItem(**entry) for entry in serializer.validated_data["entries"]]
        with transaction.atomic():
            try:
                entries = services.limit_schedule_replace(
                    station_id=pk, items=items, source=serializer.validated_data["source"]
                )
            except DjangoValidationError as exc:
                raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc
            _dispatch_after_commit(pk)
        return Response({"entries": ScheduleEntrySerializer(entries, many=True).data})

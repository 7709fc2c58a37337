"""Time-of-use over the API: a site's price or carbon signal, a driver's departure."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from api_support.schema import COMMON_ERRORS, READ_ERRORS, invalid
from api_support.views import ApiViewMixin
from stations.selectors import transaction_list

from . import selectors, services
from .api import TAG, OperatorsWrite, TimedEntrySerializer, _dispatch_after_commit, _station_for
from .models import LimitSource, SessionFlexibility, SignalKind, SiteLimit


class SignalEntrySerializer(TimedEntrySerializer):
    value = serializers.DecimalField(max_digits=12, decimal_places=4)


class SignalSerializer(serializers.Serializer):
    entries = SignalEntrySerializer(many=True, max_length=2000)
    kind = serializers.ChoiceField(choices=SignalKind.choices, default=SignalKind.PRICE)
    source = serializers.ChoiceField(choices=LimitSource.choices, default=LimitSource.EMS)


def _as_response(entries) -> dict:
    first = entries[0] if entries else None
    return {
        "entries": SignalEntrySerializer(entries, many=True).data,
        "kind": first.kind if first else SignalKind.PRICE,
        "source": first.source if first else LimitSource.EMS,
    }


class TouSignalView(ApiViewMixin, generics.GenericAPIView):
    permission_classes = [OperatorsWrite]
    serializer_class = SignalSerializer
    pagination_class = None
    queryset = SiteLimit.objects.none()  # read per method (see LimitScheduleView)

    @extend_schema(
        tags=[TAG],
        summary="A station's time-of-use signal",
        description="Prices or gCO2/kWh from now on; flexible sessions charge in the lowest.",
        responses={200: SignalSerializer, **READ_ERRORS},
    )
    def get(self, request, pk: int):
        _station_for(request, pk)
        site = selectors.site_limit_get(station_id=pk)
        entries = [] if site is None else list(site.tou_signal.filter(ends_at__gt=timezone.now()))
        return Response(_as_response(entries))

    @extend_schema(
        tags=[TAG],
        summary="Replace a station's time-of-use signal",
        description="Replaces every entry not yet over (e.g. tomorrow's hourly prices); "
        "the site is recomputed at once.",
        request=SignalSerializer,
        responses={
            200: SignalSerializer,
            400: invalid({"entries": {"0": {"ends_at": ["Must be after starts_at."]}}}),
            **COMMON_ERRORS,
        },
    )
    def put(self, request, pk: int):
        _station_for(request, pk)
        serializer = SignalSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        items = [services.SignalItem(**entry) for entry in data["entries"]]
        with transaction.atomic():
            try:
                entries = services.tou_signal_replace(
                    station_id=pk, items=items, kind=data["kind"], source=data["source"]
                )
            except DjangoValidationError as exc:
                raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc
            _dispatch_after_commit(pk)
        return Response(_as_response(entries))


class DepartureSerializer(serializers.Serializer):
    departure_time = serializers.DateTimeField()
    energy_wh = serializers.IntegerField(min_value=1, max_value=1_000_000)

    def validate_departure_time(self, value):
        if value <= timezone.now():
            raise serializers.ValidationError(_("Must be in the future."))
        return value


class MyDepartureView(ApiViewMixin, generics.GenericAPIView):
    """A driver says when they leave and how much energy they want by then."""

    permission_classes = [IsAuthenticated]
    serializer_class = DepartureSerializer
    pagination_class = None
    queryset = SessionFlexibility.objects.none()

    @extend_schema(
        tags=[TAG],
        summary="Set my session's departure",
        description="For a running session of one's own: the charge may wait for cheaper "
        "hours when the site has a time-of-use signal, and still deliver the energy by then.",
        request=DepartureSerializer,
        responses={
            200: DepartureSerializer,
            400: invalid({"departure_time": ["Must be in the future."]}),
            **COMMON_ERRORS,
        },
    )
    def patch(self, request, pk: int):
        session = get_object_or_404(transaction_list(user=request.user), pk=pk)
        if not session.is_open:
            raise serializers.ValidationError({"transaction": [_("The session has ended.")]})
        serializer = DepartureSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        station_id = session.charge_point.station_id
        with transaction.atomic():
            try:
                services.flexibility_set(
                    transaction_id=pk,
                    departure_at=data["departure_time"],
                    energy_wh=data["energy_wh"],
                )
            except DjangoValidationError as exc:
                raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc
            _dispatch_after_commit(station_id)
        return Response(serializer.data)

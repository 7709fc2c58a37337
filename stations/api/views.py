"""Stations, charge points, transactions, reservations and charging profiles.

Operators work by Django model permission; drivers read the public
catalogue (stations, charge points) and their own transactions and
reservations. Operators resolve disputed transactions
(`transactions/{id}/resolve/`).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from api_support.permissions import (
    AnonymousMapAllowed,
    OperatorModelPermissions,
    OperatorOrDriverReadOnly,
    is_operator,
)
from api_support.schema import COMMON_ERRORS, READ_ERRORS, crud_schema, error, invalid
from api_support.views import ApiViewMixin, IdempotentCreateMixin, ProtectedDestroyMixin
from loadmanagement.api import with_grid_limits

from ..choices import DisputeResolution, RegistrationStatus
from ..filtersets import (
    ChargePointFilterSet,
    ChargingProfileFilterSet,
    ConnectorFilterSet,
    MeterValueFilterSet,
    ReservationFilterSet,
    StationFilterSet,
    TransactionFilterSet,
)
from ..locations import station_visible_q
from ..models import MeterValue
from ..selectors import (
    chargepoint_list,
    chargingprofile_list,
    connector_list,
    metervalue_list,
    reservation_list,
    transaction_list,
    transaction_timeseries,
)
from ..services.disputes import transaction_dispute_resolve
from ..services.meter_values import ENERGY_REGISTER
from .list_querysets import api_stations, api_transactions
from .registration import RegistrationActionsMixin
from .serializers import (
    ChargePointPublicSerializer,
    ChargePointSerializer,
    ChargingProfileSerializer,
    ConnectorDetailSerializer,
    ReservationSerializer,
    StationSerializer,
)
from .transaction_serializers import (
    DisputeResolveSerializer,
    DriverTransactionSerializer,
    MeterValueSerializer,
    TimeSeriesSerializer,
    TransactionSerializer,
)

# Charge point ids may hold ':', ' ', '.', '#' ...: anything but a slash.
CHARGE_POINT_ID_REGEX = r"[^/]+"


STATION_DOCS = crud_schema(
    tag="stations",
    serializer=StationSerializer,
    noun="station",
    plural="stations",
    list_description=(
        "Sites with their charge points and the live status of each connector, and "
        "their location data shaped after OCPI 2.2.1 (opening times, facilities, "
        "`evses` with their plugs). Readable without a token while API_ANONYMOUS_MAP "
        "is on; drivers and anonymous callers see published stations only. "
        "`?latitude=&longitude=&radius_km=` finds stations nearby, nearest first "
        "(`distance_km`); `?available=true` keeps those where a connector is free, "
        "`?available_now=true` those with an EVSE AVAILABLE now; `?standard=` (OCPI "
        "ConnectorType, repeatable) and `?min_power_w=` those with such a plug."
    ),
    invalid_example={"latitude": ["Ensure this value is less than or equal to 90."]},
)
# The map answers without a token too (API_ANONYMOUS_MAP): spectacular cannot
# read that from an OR of permission classes.
MAP_AUTH = extend_schema(auth=[{"tokenAuth": []}, {"cookieAuth": []}, {}])


@extend_schema_view(
    **{
        **STATION_DOCS,
        "list": [STATION_DOCS["list"], MAP_AUTH],
        "retrieve": [STATION_DOCS["retrieve"], MAP_AUTH],
    }
)
class StationViewSet(
    ApiViewMixin, IdempotentCreateMixin, ProtectedDestroyMixin, viewsets.ModelViewSet
):
    serializer_class = StationSerializer
    permission_classes = [AnonymousMapAllowed | OperatorOrDriverReadOnly]
    filterset_class = StationFilterSet
    search_fields = ["name", "address", "city", "postal_code"]
    ordering_fields = ["name", "city", "country", "created_at"]

    def get_queryset(self):
        stations = api_stations().filter(station_visible_q(operator=self._is_operator()))
        return with_grid_limits(stations)

    def get_serializer_context(self):
        # Charge points waiting for the operator's decision are the operator's business.
        return {**super().get_serializer_context(), "include_unaccepted": self._is_operator()}

    def _is_operator(self) -> bool:
        request = getattr(self, "request", None)
        return request is not None and is_operator(request.user)


@extend_schema_view(
    **crud_schema(
        tag="charge points",
        serializer=ChargePointSerializer,
        noun="charge point",
        plural="charge points",
        list_description=(
            "Drivers see where each charge point is and its connectors' status; "
            "operators see and edit everything (the password is write-only)."
        ),
        invalid_example={"password": ["Ensure this field has at least 16 characters."]},
    )
)
class ChargePointViewSet(
    RegistrationActionsMixin,
    ApiViewMixin,
    IdempotentCreateMixin,
    ProtectedDestroyMixin,
    viewsets.ModelViewSet,
):
    lookup_field = "charge_point_id"
    lookup_value_regex = CHARGE_POINT_ID_REGEX
    permission_classes = [OperatorOrDriverReadOnly]
    filterset_class = ChargePointFilterSet
    search_fields = ["charge_point_id", "vendor", "model", "station__name"]
    ordering_fields = ["charge_point_id", "last_heartbeat", "created_at", "is_online", "updated_at"]
    sync_cursor = True

    def get_queryset(self):
        if is_operator(self.request.user):
            return chargepoint_list()
        # A charge point the operator has not accepted is not in service.
        return chargepoint_list().filter(registration_status=RegistrationStatus.ACCEPTED)

    def get_serializer_class(self):
        if getattr(self, "swagger_fake_view", False) or is_operator(self.request.user):
            return ChargePointSerializer
        return ChargePointPublicSerializer


class DisputeNotOpen(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("This session is not waiting for a decision.")
    default_code = "not_disputed"


class DisputeResolvePermission(BasePermission):
    """Operators with `stations.change_transaction`; never drivers."""

    message = _("Drivers cannot resolve disputes.")

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if not is_operator(user):
            return False
        self.message = _("Resolving a dispute needs the permission to change transactions.")
        return user.has_perm("stations.change_transaction")


def transactions_visible_to(user):
    """The sessions `user` may read, with their invoice (one query for the page)."""
    return api_transactions(transaction_list(user=None if is_operator(user) else user))


@extend_schema_view(
    **crud_schema(
        tag="transactions",
        serializer=TransactionSerializer,
        noun="transaction",
        plural="transactions",
        writable=False,
        list_description=(
            "Charging sessions, newest first; a driver sees only their own, and of a "
            "dispute only `is_disputed` (not its reasons, the decision or the operator's "
            "note). `?status=` filters by status, `?is_open=true` keeps the running ones, "
            "`?disputed=true` those waiting for an operator's decision."
        ),
    ),
    resolve=extend_schema(
        tags=["transactions"],
        summary="Resolve a disputed transaction",
        description=(
            "Records an operator's decision on a disputed session that has ended: "
            "`accepted` bills it as recorded, `corrected` bills `energy_wh` instead (the "
            "reported figure is kept in `energy_wh_reported`), `voided` never bills it. "
            "Operators with `stations.change_transaction` only."
        ),
        request=DisputeResolveSerializer,
        responses={
            200: TransactionSerializer,
            400: invalid({"energy_wh": ["Give the corrected energy in Wh (0 or more)."]}),
            **READ_ERRORS,
            409: error("Not waiting for a decision", str(DisputeNotOpen.default_detail)),
        },
    ),
)
class TransactionViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    permission_classes = [OperatorOrDriverReadOnly]
    lookup_value_regex = r"[0-9]+"
    filterset_class = TransactionFilterSet
    search_fields = ["id_tag", "charge_point__charge_point_id"]
    ordering_fields = ["start_timestamp", "stop_timestamp", "id", "energy_wh", "updated_at"]
    sync_cursor = True

    def get_queryset(self):
        return transactions_visible_to(self.request.user)

    def get_serializer_class(self):
        if getattr(self, "swagger_fake_view", False) or is_operator(self.request.user):
            return TransactionSerializer
        return DriverTransactionSerializer

    @action(
        detail=True,
        methods=["post"],
        permission_classes=[DisputeResolvePermission],
        filter_backends=[],
    )
    def resolve(self, request, pk=None):
        session = self.get_object()
        decision = DisputeResolveSerializer(data=request.data)
        decision.is_valid(raise_exception=True)
        try:
            transaction_dispute_resolve(
                transaction_pk=session.pk,
                resolution=DisputeResolution(decision.validated_data["resolution"]),
                resolved_by_id=request.user.pk,
                note=decision.validated_data["note"],
                energy_wh=decision.validated_data["energy_wh"],
            )
        except DjangoValidationError as exc:
            # A message tied to a field is the request's fault; one without, the
            # session's state (never disputed, decided already, still running).
            if hasattr(exc, "error_dict"):
                raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc
            raise DisputeNotOpen(" ".join(exc.messages)) from exc
        resolved = self.get_queryset().get(pk=session.pk)
        return Response(TransactionSerializer(resolved, context=self.get_serializer_context()).data)


class TransactionChildView(ApiViewMixin, generics.GenericAPIView):
    """A view below transactions/{id}/: 404 unless the user may see that transaction."""

    permission_classes = [OperatorOrDriverReadOnly]
    transaction = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        user = request.user
        visible = transaction_list(user=None if is_operator(user) else user)
        self.transaction = get_object_or_404(visible, pk=kwargs["pk"])

    def get_queryset(self):
        if self.transaction is None:  # permission checks and the schema
            return MeterValue.objects.none()
        return metervalue_list(transaction=self.transaction).select_related("connector")


@extend_schema(
    tags=["transactions"],
    summary="List a transaction's meter values",
    description=(
        "Every sample the charge point sent for the session (MeterValues and the start and "
        "stop readings), oldest first; filter by `measurand`, `phase`, `context`, `after`, "
        "`before`. A driver sees only their own sessions' values. Once a settled session is "
        "older than the raw retention (docs/METER_VALUES.md), only its start and stop "
        "readings and signed values are kept here; its roll-ups feed `timeseries/`."
    ),
    responses={200: MeterValueSerializer(many=True), **READ_ERRORS},
)
class TransactionMeterValueList(TransactionChildView, generics.ListAPIView):
    serializer_class = MeterValueSerializer
    filterset_class = MeterValueFilterSet
    ordering_fields = ["timestamp"]


@extend_schema(
    tags=["transactions"],
    summary="One measurand of a transaction over time, for a chart",
    description=(
        "The session's values of one measurand (default: the energy register) and phase "
        "as `{timestamp, value}` points with their unit, not paginated. A driver sees only "
        "their own sessions. Raw samples while they are kept; for a session whose raw samples "
        "aged out (docs/METER_VALUES.md), or a very long one, per-interval roll-ups "
        "(`interval_seconds` says so)."
    ),
    parameters=[
        OpenApiParameter(
            "measurand",
            OpenApiTypes.STR,
            default=ENERGY_REGISTER,
            description="OCPP measurand, e.g. Power.Active.Import or SoC.",
        ),
        OpenApiParameter(
            "phase", OpenApiTypes.STR, default="", description="e.g. L1; empty: the total."
        ),
    ],
    responses={200: TimeSeriesSerializer, **READ_ERRORS},
)
class TransactionTimeSeries(TransactionChildView):
    serializer_class = TimeSeriesSerializer
    filter_backends: list = []
    pagination_class = None

    def get(self, request, *args, **kwargs):
        measurand = request.query_params.get("measurand") or ENERGY_REGISTER
        phase = request.query_params.get("phase", "")
        series = transaction_timeseries(
            transaction=self.transaction, measurand=measurand[:48], phase=phase[:8]
        )
        serializer = self.get_serializer(
            {
                "transaction": self.transaction.pk,
                "measurand": series.measurand,
                "phase": series.phase,
                "unit": series.unit,
                "points": [
                    {"timestamp": timestamp, "value": value} for timestamp, value in series.points
                ],
                "interval_seconds": series.interval_seconds,
            }
        )
        return Response(serializer.data)


@extend_schema(
    tags=["me"],
    summary="My transactions",
    description=(
        "The signed-in driver's charging sessions (those of their id tags), running and "
        "ended, with energy, cost snapshot and invoice. Filters as for `transactions/`."
    ),
    responses={200: DriverTransactionSerializer(many=True), **COMMON_ERRORS},
)
class MyTransactionList(ApiViewMixin, generics.ListAPIView):
    serializer_class = DriverTransactionSerializer
    filterset_class = TransactionFilterSet
    ordering_fields = ["start_timestamp", "stop_timestamp", "id", "updated_at"]
    sync_cursor = True

    def get_queryset(self):
        return api_transactions(transaction_list(user=self.request.user))


@extend_schema_view(
    **crud_schema(
        tag="reservations",
        serializer=ReservationSerializer,
        noun="reservation",
        plural="reservations",
        writable=False,
        list_description=(
            "Connector reservations, looked up by the OCPP reservationId. Make one with "
            "the reserve-now command; a driver sees only those for their own id tags."
        ),
    )
)
class ReservationViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = ReservationSerializer
    permission_classes = [OperatorOrDriverReadOnly]
    lookup_field = "reservation_id"
    lookup_value_regex = r"-?[0-9]+"
    filterset_class = ReservationFilterSet
    search_fields = ["id_tag", "charge_point__charge_point_id"]
    ordering_fields = ["created_at", "expiry_date", "reservation_id"]

    def get_queryset(self):
        user = self.request.user
        return reservation_list(user=None if is_operator(user) else user)


@extend_schema(
    tags=["me"],
    summary="My reservations",
    description=(
        "The signed-in driver's reservations (those made with their id tags or by them), "
        "newest first, with their status."
    ),
    responses={200: ReservationSerializer(many=True), **COMMON_ERRORS},
)
class MyReservationList(ApiViewMixin, generics.ListAPIView):
    serializer_class = ReservationSerializer
    filterset_class = ReservationFilterSet
    ordering_fields = ["created_at", "expiry_date"]

    def get_queryset(self):
        return reservation_list(user=self.request.user)


@extend_schema_view(
    **crud_schema(
        tag="charging profiles",
        serializer=ChargingProfileSerializer,
        noun="charging profile",
        plural="charging profiles",
        writable=False,
        list_description=(
            "Smart charging profiles the charge points accepted (operators only). "
            "Install or clear them with the set-charging-profile and "
            "clear-charging-profile commands."
        ),
    )
)
class ChargingProfileViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = ChargingProfileSerializer
    permission_classes = [OperatorModelPermissions]
    lookup_value_regex = r"[0-9]+"
    filterset_class = ChargingProfileFilterSet
    ordering_fields = ["installed_at", "stack_level", "connector_id"]

    def get_queryset(self):
        return chargingprofile_list()


@extend_schema_view(
    **crud_schema(
        tag="connectors",
        serializer=ConnectorDetailSerializer,
        noun="connector",
        plural="connectors",
        writable=False,
        list_description=(
            "Every connector with its live status, for operators and apps alike; "
            "filter by `charge_point`, `status`, `error_code` or `online`."
        ),
    )
)
class ConnectorViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = ConnectorDetailSerializer
    permission_classes = [OperatorOrDriverReadOnly]
    lookup_value_regex = r"[0-9]+"
    filterset_class = ConnectorFilterSet
    ordering_fields = ["connector_id", "status", "updated_at"]

    def get_queryset(self):
        if is_operator(self.request.user):
            return connector_list()
        return connector_list().filter(
            charge_point__registration_status=RegistrationStatus.ACCEPTED
        )

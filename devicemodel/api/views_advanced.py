"""Monitoring, events, display messages, customer information and running cost in the API.

Reads (operators): `charge-points/{id}/monitors/`, `events/` (`?open_problem=true`:
the ones that keep the alarm raised), `display-messages/`,
`customer-information/`. The commands themselves (SetVariableMonitoring,
SetDisplayMessage, CustomerInformation, ...) are sent with the generic
`charge-points/{id}/commands/<action>/`. `POST .../cost-updates/` sends
CostUpdated with the cost so far of a running session, computed here.
"""

from __future__ import annotations

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from api_support.permissions import OperatorModelPermissions
from api_support.schema import READ_ERRORS
from ocpp_consumer.api.payloads import from_ocpp
from ocpp_consumer.api.views import CommandPermission
from ocpp_consumer.v201.costs import cost_updated_payload
from stations.models import Transaction

from ..models import CustomerInformation, DeviceEvent, DisplayMessage, VariableMonitor
from .views import _COMMAND_ERRORS, ChargePointChildView, _send


class VariableMonitorSerializer(serializers.ModelSerializer):
    variable = serializers.CharField(source="variable.path")

    class Meta:
        model = VariableMonitor
        fields = [
            "monitor_id",
            "variable",
            "type",
            "value",
            "severity",
            "transaction",
            "set_status",
            "updated_at",
        ]


class DeviceEventSerializer(serializers.ModelSerializer):
    variable = serializers.CharField(source="variable.path")

    class Meta:
        model = DeviceEvent
        fields = [
            "id",
            "event_id",
            "timestamp",
            "variable",
            "trigger",
            "cause",
            "actual_value",
            "tech_code",
            "tech_info",
            "cleared",
            "transaction_id",
            "variable_monitoring_id",
            "notification_type",
            "severity",
            "is_problem",
            "cleared_at",
            "received_at",
        ]


class DisplayMessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = DisplayMessage
        fields = [
            "message_id",
            "priority",
            "state",
            "start_at",
            "end_at",
            "transaction_id",
            "format",
            "language",
            "content",
            "display",
            "set_status",
            "reported_at",
            "updated_at",
        ]


class CustomerInformationSerializer(serializers.ModelSerializer):
    data = serializers.CharField(read_only=True)

    class Meta:
        model = CustomerInformation
        fields = [
            "request_id",
            "customer",
            "report",
            "clear",
            "status",
            "complete",
            "data",
            "generated_at",
            "created_at",
        ]


class DeviceEventFilterSet(filters.FilterSet):
    open_problem = filters.BooleanFilter(method="filter_open_problem")

    class Meta:
        model = DeviceEvent
        fields = ["open_problem", "trigger"]

    def filter_open_problem(self, queryset, name, value):
        open_q = {"is_problem": True, "cleared_at__isnull": True}
        return queryset.filter(**open_q) if value else queryset.exclude(**open_q)


class _ChargePointRows(ChargePointChildView, generics.ListAPIView):
    """Rows of one model belonging to the charge point of the URL."""

    permission_classes = [OperatorModelPermissions]
    related = ()

    def get_queryset(self):
        model = self.serializer_class.Meta.model
        if self.charge_point is None:
            return model.objects.none()
        return model.objects.filter(charge_point=self.charge_point).select_related(*self.related)


@extend_schema(
    tags=["device model"],
    summary="List a charge point's variable monitors (OCPP 2.0.1)",
    description=(
        "The monitors set on the charge point's variables (SetVariableMonitoring, or "
        "reported), with their type, threshold, severity and whether the charger accepted "
        "them. Operators only; 404 for an unknown charge point."
    ),
    responses={200: VariableMonitorSerializer(many=True), **READ_ERRORS},
)
class VariableMonitorList(_ChargePointRows):
    serializer_class = VariableMonitorSerializer
    queryset = VariableMonitor.objects.none()
    related = ("variable",)


@extend_schema(
    tags=["device model"],
    summary="List the events a charge point reported (OCPP 2.0.1 NotifyEvent)",
    description=(
        "What the charger's monitors noticed: the variable, trigger, actual value and "
        "severity, and whether a problem is still open (`?open_problem=true`, "
        "`?trigger=`). Operators only; 404 for an unknown charge point."
    ),
    responses={200: DeviceEventSerializer(many=True), **READ_ERRORS},
)
class DeviceEventList(_ChargePointRows):
    serializer_class = DeviceEventSerializer
    queryset = DeviceEvent.objects.none()
    filterset_class = DeviceEventFilterSet
    related = ("variable",)


@extend_schema(
    tags=["device model"],
    summary="List a charge point's display messages (OCPP 2.0.1)",
    description=(
        "The messages set on (or reported by) the charger's display: priority, state, "
        "validity, language and content, and whether the charger accepted them. Operators "
        "only; 404 for an unknown charge point."
    ),
    responses={200: DisplayMessageSerializer(many=True), **READ_ERRORS},
)
class DisplayMessageList(_ChargePointRows):
    serializer_class = DisplayMessageSerializer
    queryset = DisplayMessage.objects.none()


@extend_schema(
    tags=["device model"],
    summary="List the customer information a charge point sent (OCPP 2.0.1)",
    description=(
        "The answers to CustomerInformation requests: which customer, whether a report or "
        "a clearing was asked, the status, and the data the charger sent. Operators only; "
        "404 for an unknown charge point."
    ),
    responses={200: CustomerInformationSerializer(many=True), **READ_ERRORS},
)
class CustomerInformationList(_ChargePointRows):
    serializer_class = CustomerInformationSerializer
    queryset = CustomerInformation.objects.none()


class CostUpdateSerializer(serializers.Serializer):
    transaction_id = serializers.CharField(
        max_length=36, help_text="The charger's transaction id of a running session."
    )


class CostUpdateView(ChargePointChildView):
    """Tell the station the cost so far of a running session (CostUpdated)."""

    ocpp_action = "CostUpdated"
    permission_classes = [CommandPermission]
    serializer_class = CostUpdateSerializer

    @extend_schema(
        tags=["device model"],
        summary="Send the running cost of a session (OCPP 2.0.1 CostUpdated)",
        description=(
            "Computes the session's cost so far from the prices fixed at its start and "
            "sends it. 404 when the session is unknown, not running, or has no prices."
        ),
        request=CostUpdateSerializer,
        responses={
            200: inline_serializer(
                name="CostUpdateAnswer",
                fields={
                    "total_cost": serializers.FloatField(),
                    "response": serializers.DictField(),
                },
            ),
            **_COMMAND_ERRORS,
        },
    )
    def post(self, request, charge_point_id: str):
        serializer = CostUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        session = Transaction.objects.filter(
            charge_point=self.charge_point,
            ocpp_transaction_id=serializer.validated_data["transaction_id"],
            stop_timestamp__isnull=True,
        ).first()
        payload = None if session is None else cost_updated_payload(transaction=session)
        if payload is None:
            raise NotFound("No running session with prices fixed has this transaction id.")
        command = _send(
            request, charge_point_id=charge_point_id, action="CostUpdated", payload=payload
        )
        return Response(
            {"total_cost": payload["totalCost"], "response": from_ocpp(command.response or {})}
        )

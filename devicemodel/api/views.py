"""The device model of a charge point in the API: read it, set a value, ask for a report.

`GET charge-points/{id}/variables/` (operators) lists what the charge point
reported; `POST .../variables/set/` sends SetVariables for one attribute and
`POST .../variables/report/` sends GetBaseReport with a request id chosen
here. Both commands go through `ocpp_consumer.commands` like every other.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response

from api_support.permissions import OperatorModelPermissions
from api_support.schema import COMMON_ERRORS, READ_ERRORS
from api_support.views import ApiViewMixin
from ocpp_consumer import commands
from ocpp_consumer.api.payloads import field_errors, from_ocpp
from ocpp_consumer.api.views import (
    ChannelLayerUnavailable,
    ChargePointNotConnected,
    ChargePointRejected,
    ChargePointTimeout,
    CommandPermission,
    requester_for,
)
from ocpp_consumer.models import Command, CommandStatus
from ocpp_consumer.v201.device_model import set_variables_payload
from stations.models import ChargePoint

from ..models import DeviceReport, DeviceVariable
from ..selectors import device_variables
from ..services import VariableKey, report_reservation_release, report_reserve
from .serializers import (
    DeviceReportSerializer,
    DeviceVariableSerializer,
    ReportRequestSerializer,
    VariableSetSerializer,
)


class DeviceVariableFilterSet(filters.FilterSet):
    component = filters.CharFilter(field_name="component", lookup_expr="iexact")
    variable = filters.CharFilter(field_name="name", lookup_expr="iexact")
    evse_id = filters.NumberFilter()

    class Meta:
        model = DeviceVariable
        fields = ["component", "variable", "evse_id"]


class ChargePointChildView(ApiViewMixin, generics.GenericAPIView):
    """A view under charge-points/{charge_point_id}/ (404 for an unknown charge point)."""

    charge_point = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.charge_point = get_object_or_404(
            ChargePoint, charge_point_id=kwargs["charge_point_id"]
        )


@extend_schema(
    tags=["device model"],
    summary="List a charge point's device model (OCPP 2.0.1)",
    description=(
        "Its components' variables as the charge point reported them (NotifyReport, "
        "GetVariables) and set (SetVariables), with their attributes. Operators only."
    ),
    responses={200: DeviceVariableSerializer(many=True), **READ_ERRORS},
)
class DeviceVariableList(ChargePointChildView, generics.ListAPIView):
    serializer_class = DeviceVariableSerializer
    permission_classes = [OperatorModelPermissions]
    filterset_class = DeviceVariableFilterSet
    queryset = DeviceVariable.objects.none()  # for the permission's model

    def get_queryset(self):
        if self.charge_point is None:  # permission checks and the schema
            return DeviceVariable.objects.none()
        return device_variables(charge_point_pk=self.charge_point.pk)


@extend_schema(
    tags=["device model"],
    summary="List the reports asked of a charge point (OCPP 2.0.1)",
    description="Newest first: status, parts received, when the last part completed it.",
    responses={200: DeviceReportSerializer(many=True), **READ_ERRORS},
)
class DeviceReportList(ChargePointChildView, generics.ListAPIView):
    serializer_class = DeviceReportSerializer
    permission_classes = [OperatorModelPermissions]
    queryset = DeviceReport.objects.none()

    def get_queryset(self):
        if self.charge_point is None:
            return DeviceReport.objects.none()
        return DeviceReport.objects.filter(charge_point=self.charge_point)


def _send(request, *, charge_point_id: str, action: str, payload: dict) -> Command:
    """Send through the command path; its refusals as the command endpoints answer them."""
    try:
        command = commands.command_send_sync(
            charge_point_id=charge_point_id,
            action=action,
            payload=payload,
            requester=requester_for(request.user),
            source="api",
        )
    except commands.InvalidPayload as exc:
        raise ValidationError(field_errors(str(exc))) from exc
    except commands.UnknownAction as exc:
        raise ValidationError({"non_field_errors": [str(exc)]}) from exc
    except commands.ChargePointNotFound as exc:
        raise NotFound(str(exc)) from exc
    except commands.ChargePointOffline as exc:
        raise ChargePointNotConnected(str(exc)) from exc
    except commands.CommandForbidden as exc:
        raise PermissionDenied(str(exc)) from exc
    except commands.CommandTimeout as exc:
        raise ChargePointTimeout(str(exc)) from exc
    except commands.CommandsUnavailable as exc:
        raise ChannelLayerUnavailable() from exc
    if command.status != CommandStatus.ANSWERED:
        raise ChargePointRejected(
            {
                "detail": command.error_description or str(ChargePointRejected.default_detail),
                "error_code": command.error_code or "GenericError",
            }
        )
    return command


# Refusals before anything reached the charge point: its request id is free again.
_NOT_SENT = (
    ValidationError,
    NotFound,
    ChargePointNotConnected,
    PermissionDenied,
    ChannelLayerUnavailable,
)

_COMMAND_ERRORS = {
    **COMMON_ERRORS,
    409: OpenApiResponse(description="The charge point is not connected"),
    502: OpenApiResponse(description="The charge point answered with a CALLERROR"),
    503: OpenApiResponse(description="Commands cannot be routed (channel layer down)"),
    504: OpenApiResponse(description="No answer in time"),
}


class VariableSetView(ChargePointChildView):
    """Set one attribute: validated by what the charge point reported of it, then SetVariables."""

    ocpp_action = "SetVariables"
    permission_classes = [CommandPermission]
    serializer_class = VariableSetSerializer

    @extend_schema(
        tags=["device model"],
        summary="Set a variable (OCPP 2.0.1 SetVariables)",
        description=(
            "A value the reported characteristics rule out (data type, limits, allowed "
            "values) or a read-only attribute is a 400 and nothing is sent. The stored value "
            "changes when the charge point answers Accepted or RebootRequired. Operators "
            "with `stations.change_chargepoint`."
        ),
        request=VariableSetSerializer,
        responses={
            200: inline_serializer(
                name="VariableSetAnswer",
                fields={
                    "status": serializers.CharField(
                        help_text="attributeStatus: Accepted, RebootRequired, Rejected, ..."
                    ),
                    "response": serializers.DictField(help_text="The answer, snake_case."),
                },
            ),
            **_COMMAND_ERRORS,
        },
    )
    def post(self, request, charge_point_id: str):
        serializer = VariableSetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        key = VariableKey(
            component=data["component"],
            component_instance=data["component_instance"],
            evse_id=data["evse_id"],
            connector_id=data["connector_id"],
            variable=data["variable"],
            variable_instance=data["variable_instance"],
        )
        self._validate_known(key=key, attribute_type=data["attribute_type"], value=data["value"])
        command = _send(
            request,
            charge_point_id=charge_point_id,
            action="SetVariables",
            payload=set_variables_payload(
                key=key, value=data["value"], attribute_type=data["attribute_type"]
            ),
        )
        response = command.response or {}
        results = response.get("setVariableResult") or [{}]
        return Response(
            {"status": results[0].get("attributeStatus", ""), "response": from_ocpp(response)}
        )

    def _validate_known(self, *, key: VariableKey, attribute_type: str, value: str) -> None:
        """A variable not reported yet is the charge point's to judge."""
        variable = (
            DeviceVariable.objects.filter(charge_point=self.charge_point, **key.lookup())
            .prefetch_related("attributes")
            .first()
        )
        if variable is None:
            return
        attribute = next((a for a in variable.attributes.all() if a.type == attribute_type), None)
        if attribute is not None and not attribute.is_writable:
            raise ValidationError({"variable": ["This attribute is read-only."]})
        problems = variable.value_problems(value)
        if problems:
            raise ValidationError({"value": problems})


class ReportRequestView(ChargePointChildView):
    """Ask for a base report with a request id chosen here, unique for the charge point."""

    ocpp_action = "GetBaseReport"
    permission_classes = [CommandPermission]
    serializer_class = ReportRequestSerializer

    @extend_schema(
        tags=["device model"],
        summary="Ask for a base report (OCPP 2.0.1 GetBaseReport)",
        description=(
            "Chooses the request id, sends GetBaseReport and returns the answer; the "
            "report then arrives in parts (see `reports/`) and updates `variables/`."
        ),
        request=ReportRequestSerializer,
        responses={
            200: inline_serializer(
                name="ReportRequestAnswer",
                fields={
                    "status": serializers.CharField(),
                    "request_id": serializers.IntegerField(),
                    "response": serializers.DictField(),
                },
            ),
            **_COMMAND_ERRORS,
        },
    )
    def post(self, request, charge_point_id: str):
        serializer = ReportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        report_base = serializer.validated_data["report_base"]
        report = report_reserve(charge_point_pk=self.charge_point.pk, report_base=report_base)
        try:
            command = _send(
                request,
                charge_point_id=charge_point_id,
                action="GetBaseReport",
                payload={"requestId": report.request_id, "reportBase": report_base},
            )
        except _NOT_SENT:
            report_reservation_release(report_pk=report.pk)
            raise
        response = command.response or {}
        return Response(
            {
                "status": response.get("status", ""),
                "request_id": report.request_id,
                "response": from_ocpp(response),
            }
        )

"""Shapes of the device model in the API (snake_case)."""

from __future__ import annotations

from rest_framework import serializers

from ..choices import AttributeType, ReportBase
from ..models import DeviceReport, DeviceVariable, VariableAttribute

# SetVariablesRequest: attributeValue has at most 1000 characters.
SET_VALUE_MAX_LENGTH = 1000


class VariableAttributeSerializer(serializers.ModelSerializer):
    class Meta:
        model = VariableAttribute
        fields = [
            "type",
            "value",
            "mutability",
            "persistent",
            "constant",
            "set_status",
            "set_at",
            "reboot_required",
            "updated_at",
        ]


class DeviceVariableSerializer(serializers.ModelSerializer):
    variable = serializers.CharField(source="name")
    variable_instance = serializers.CharField(source="instance")
    attributes = VariableAttributeSerializer(many=True, read_only=True)

    class Meta:
        model = DeviceVariable
        fields = [
            "id",
            "component",
            "component_instance",
            "evse_id",
            "connector_id",
            "variable",
            "variable_instance",
            "data_type",
            "unit",
            "min_limit",
            "max_limit",
            "values_list",
            "supports_monitoring",
            "report_request_id",
            "attributes",
            "updated_at",
        ]


class VariableSetSerializer(serializers.Serializer):
    """One attribute to set; the variable's reported characteristics judge the value."""

    component = serializers.CharField(max_length=50)
    component_instance = serializers.CharField(max_length=50, required=False, default="")
    evse_id = serializers.IntegerField(min_value=0, required=False, allow_null=True, default=None)
    connector_id = serializers.IntegerField(
        min_value=0, required=False, allow_null=True, default=None
    )
    variable = serializers.CharField(max_length=50)
    variable_instance = serializers.CharField(max_length=50, required=False, default="")
    attribute_type = serializers.ChoiceField(
        choices=AttributeType.choices, required=False, default=AttributeType.ACTUAL
    )
    value = serializers.CharField(max_length=SET_VALUE_MAX_LENGTH, trim_whitespace=False)

    def validate(self, attrs):
        if attrs["connector_id"] is not None and attrs["evse_id"] is None:
            raise serializers.ValidationError({"connector_id": ["Needs evse_id."]})
        return attrs


class ReportRequestSerializer(serializers.Serializer):
    report_base = serializers.ChoiceField(
        choices=[(c.value, c.label) for c in ReportBase if c != ReportBase.CUSTOM],
        required=False,
        default=ReportBase.FULL_INVENTORY,
    )


class DeviceReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeviceReport
        fields = [
            "request_id",
            "report_base",
            "status",
            "parts_received",
            "missing_parts",
            "last_seq_no",
            "variables_reported",
            "generated_at",
            "created_at",
            "answered_at",
            "completed_at",
        ]

"""Shapes of commands and the message journal in the API."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import Command, JournalEntry
from .payloads import from_ocpp, to_ocpp


class CommandRequestSerializer(serializers.Serializer):
    """A command body as the CALL's `payload` (camelCase keys).

    Only its shape is checked here: `command_send` validates the payload,
    once, and the view turns its InvalidPayload into a 400 naming the field.
    """

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": ["Send a JSON object with the command's fields."]}
            )
        return {"payload": to_ocpp(dict(data))}


@extend_schema_field({"type": "object", "additionalProperties": True})
class OcppPayloadField(serializers.JSONField):
    """An OCPP payload shown with snake_case keys."""

    def to_representation(self, value):
        return from_ocpp(value) if isinstance(value, dict) else value


# The `status` of a command's answer whose OCPP answer carries none
# (GetConfiguration, GetLocalListVersion, GetDiagnostics, 1.6 UpdateFirmware,
# 2.0.1 GetVariables...): the charge point answered with a CALLRESULT, its
# data is in `response`.
ANSWERED = "Answered"
ANSWER_STATUS_HELP = (
    "The charge point's verdict: the `status` of its answer (Accepted, Rejected, ...) "
    f"for the actions whose answer has one; `{ANSWERED}` for those whose answer has none "
    "(GetConfiguration, GetLocalListVersion, GetDiagnostics, UpdateFirmware of OCPP 1.6, "
    "GetVariables and SetVariables of OCPP 2.0.1, ...): it answered, and the data is in "
    "`response`. Never null: a CALLERROR or no answer is an HTTP error (502, 504), not a 200."
)


def answer_status(response: dict | None) -> str:
    """The API's `status` of an answered command (see ANSWER_STATUS_HELP)."""
    status = (response or {}).get("status")
    return status if isinstance(status, str) else ANSWERED


class CommandSerializer(serializers.ModelSerializer):
    payload = OcppPayloadField(read_only=True, help_text="The request, snake_case.")
    response = OcppPayloadField(
        read_only=True, allow_null=True, help_text="The charge point's answer, snake_case."
    )
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Command
        fields = [
            "id",
            "action",
            "payload",
            "status",
            "response",
            "error_code",
            "error_description",
            "requested_by",
            "source",
            "unique_id",
            "outcome",
            "transaction",
            "created_at",
            "sent_at",
            "answered_at",
        ]
        read_only_fields = fields


class CommandHandleSerializer(serializers.ModelSerializer):
    """One command followed by its id: how it ended and, for a start, the session it began."""

    charge_point = serializers.SlugRelatedField(slug_field="charge_point_id", read_only=True)
    payload = OcppPayloadField(read_only=True, help_text="The request as sent, snake_case.")
    response = OcppPayloadField(
        read_only=True, allow_null=True, help_text="The charge point's answer, snake_case."
    )
    outcome = serializers.CharField(
        read_only=True,
        help_text="The answer's own status (Accepted, Rejected, ...); empty while "
        "unanswered or when the answer has none.",
    )
    transaction = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text="A remote start: the session the charger started for it (transactions/"
        "{id}/); null until then, and for other commands.",
    )

    class Meta:
        model = Command
        fields = [
            "id",
            "action",
            "charge_point",
            "status",
            "outcome",
            "payload",
            "response",
            "error_code",
            "error_description",
            "transaction",
            "created_at",
            "sent_at",
            "answered_at",
        ]
        read_only_fields = fields


class JournalEntrySerializer(serializers.ModelSerializer):
    charge_point = serializers.SlugRelatedField(slug_field="charge_point_id", read_only=True)
    payload = serializers.JSONField(
        read_only=True, allow_null=True, help_text="As on the wire (OCPP camelCase)."
    )

    class Meta:
        model = JournalEntry
        fields = [
            "id",
            "timestamp",
            "charge_point",
            "direction",
            "message_type",
            "unique_id",
            "action",
            "payload",
            "error_code",
            "raw",
        ]
        read_only_fields = fields

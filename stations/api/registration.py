"""An operator's decision on a charge point: accept it, reject it (or PATCH the status).

Unknown charge points register themselves as Pending and wait here. Every
path (accept/, reject/, PATCH `registration_status`) records the decision
with one domain service, then tells a connected charge point through the
command path (`ocpp_consumer.commands.registration`): its consumer re-reads
the registration at once and a TriggerMessage(BootNotification) makes it
boot now, so that it learns the decision from the answer.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from api_support.permissions import is_operator
from api_support.schema import READ_ERRORS
from ocpp_consumer.commands import Requester
from ocpp_consumer.commands.registration import RegistrationNotice, registration_changed_sync

from ..choices import RegistrationStatus
from ..services.registration import chargepoint_registration_set


class RegistrationPermission(BasePermission):
    """Operators with `stations.change_chargepoint`; never drivers."""

    message = _("Only operators decide on a charge point's registration.")

    def has_permission(self, request, view):
        user = request.user
        if not is_operator(user):
            return False
        self.message = _("Deciding on a charge point needs the permission to change it.")
        return user.has_perm("stations.change_chargepoint")


class BootTriggerSerializer(serializers.Serializer):
    command_id = serializers.IntegerField(allow_null=True)
    status = serializers.CharField(
        help_text="The command's status: answered, failed, timed_out, offline ..."
    )
    answer = serializers.CharField(
        allow_null=True, help_text="The charge point's TriggerMessage status."
    )
    detail = serializers.CharField(allow_null=True)


class RegistrationDecisionSerializer(serializers.Serializer):
    charge_point_id = serializers.CharField()
    registration_status = serializers.ChoiceField(choices=RegistrationStatus.choices)
    is_online = serializers.BooleanField()
    boot_trigger = BootTriggerSerializer(
        allow_null=True,
        help_text="The TriggerMessage(BootNotification) sent to a connected charge point; "
        "null when it is not connected (it learns the decision at its next boot).",
    )


def boot_trigger_data(notice: RegistrationNotice | None) -> dict | None:
    if notice is None:
        return None
    command = notice.trigger
    answer = (command.response or {}).get("status") if command is not None else None
    return {
        "command_id": command.pk if command is not None else None,
        "status": command.status if command is not None else "not_sent",
        "answer": answer,
        "detail": str(notice.error) if notice.error is not None else None,
    }


def registration_notify(request, *, charge_point_id: str, source: str) -> RegistrationNotice | None:
    """Tell a connected charge point of the decision just recorded (see the module)."""
    return registration_changed_sync(
        charge_point_id=charge_point_id,
        requester=Requester(user_id=request.user.pk),
        source=source,
    )


def _decision_schema(verb: str, status: str) -> dict:
    return dict(
        tags=["charge points"],
        summary=f"{verb} a charge point",
        description=(
            f"Sets `registration_status` to `{status}` (operators with "
            "`stations.change_chargepoint`). A connected charge point is asked to boot "
            "again at once (TriggerMessage BootNotification) and answered with the "
            "decision; `boot_trigger` tells how that went. Until a charge point is "
            "Accepted, its messages other than BootNotification are refused, its id tags "
            "are answered Invalid and it starts no session."
        ),
        request=None,
        responses={200: RegistrationDecisionSerializer, **READ_ERRORS},
        examples=[
            OpenApiExample(
                "Decided",
                value={
                    "charge_point_id": "CP-0001",
                    "registration_status": status,
                    "is_online": True,
                    "boot_trigger": {
                        "command_id": 42,
                        "status": "answered",
                        "answer": "Accepted",
                        "detail": None,
                    },
                },
                response_only=True,
            )
        ],
    )


# accept/ and reject/ on the charge point viewset, and the same follow-up on
# PATCH. (A comment, not a docstring: the schema would show it for every
# operation of the viewset.)
class RegistrationActionsMixin:
    @extend_schema(**_decision_schema("Accept", RegistrationStatus.ACCEPTED))
    @action(detail=True, methods=["post"], permission_classes=[RegistrationPermission])
    def accept(self, request, charge_point_id=None):
        return self._decide(request, RegistrationStatus.ACCEPTED)

    @extend_schema(**_decision_schema("Reject", RegistrationStatus.REJECTED))
    @action(detail=True, methods=["post"], permission_classes=[RegistrationPermission])
    def reject(self, request, charge_point_id=None):
        return self._decide(request, RegistrationStatus.REJECTED)

    def _decide(self, request, status: str) -> Response:
        charge_point = self.get_object()
        decided = chargepoint_registration_set(charge_point_pk=charge_point.pk, status=status)
        notice = registration_notify(request, charge_point_id=decided.charge_point_id, source="api")
        return Response(
            {
                "charge_point_id": decided.charge_point_id,
                "registration_status": decided.registration_status,
                "is_online": decided.is_online,
                "boot_trigger": boot_trigger_data(notice),
            }
        )

    def perform_update(self, serializer):
        before = serializer.instance.registration_status
        charge_point = serializer.save()
        if charge_point.registration_status != before:
            registration_notify(
                self.request, charge_point_id=charge_point.charge_point_id, source="api"
            )

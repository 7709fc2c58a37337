"""Commands to charge points, their history, and the message journal.

`POST charge-points/{id}/commands/{action}/` sends one OCPP command through
`ocpp_consumer.commands` (the only way to reach a charge point) and answers
with the charge point's reply. One URL per action of either OCPP version:
the charge point's version decides which schema the body must pass, and an
action its version lacks is a 400 naming the version. Operators need
`stations.change_chargepoint`; drivers may start and stop their own charging
(commands.policy decides). A start's answer carries `command_id`, and
`GET commands/{command_id}/` follows it to the session the charger started
(commands.handles links them).
"""

from __future__ import annotations

import copy
import re

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import generics, serializers, status, viewsets
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from api_support.exceptions import ServiceUnavailable
from api_support.idempotency import IDEMPOTENCY_KEY_PARAMETER, IdempotencyKeyReused, idempotent
from api_support.permissions import (
    OperatorModelPermissions,
    OperatorOrDriverReadOnly,
    is_operator,
)
from api_support.schema import COMMON_ERRORS, READ_ERRORS, error, invalid
from api_support.views import ApiViewMixin
from stations.models import ChargePoint

from .. import commands
from ..commands.handles import remote_start_command_transaction
from ..commands.policy import Requester, command_action_permitted
from ..filtersets import CommandFilterSet, JournalEntryFilterSet
from ..models import Command, CommandStatus, JournalEntry
from .payloads import field_errors, from_ocpp
from .schemas import (
    ANSWER_EXAMPLES,
    DEFAULT_ANSWER_EXAMPLE,
    EXAMPLES_BY_VERSION,
    START_ACTIONS,
    action_versions,
    answer_schema,
    command_request_schema,
)
from .serializers import (
    CommandHandleSerializer,
    CommandRequestSerializer,
    CommandSerializer,
    JournalEntrySerializer,
    answer_status,
)


class ChargePointNotConnected(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("The charge point is not connected.")
    default_code = "not_connected"


class ChargePointTimeout(APIException):
    status_code = status.HTTP_504_GATEWAY_TIMEOUT
    default_detail = _("The charge point did not answer in time.")
    default_code = "timeout"


class ChannelLayerUnavailable(ServiceUnavailable):
    """Nothing can reach a socket now: the command ended `failed` without being sent."""

    default_detail = _(
        "Commands cannot be routed to charge points: the channel layer (Redis) is "
        "unreachable. Charging goes on; retry later."
    )
    default_code = "channel_layer_unavailable"


class ChargePointRejected(APIException):
    """The charge point answered with a CALLERROR (or an answer that breaks the schema)."""

    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = _("The charge point answered with an error.")
    default_code = "call_error"


CallErrorSerializer = inline_serializer(
    name="CallError",
    fields={
        "detail": serializers.CharField(),
        "error_code": serializers.CharField(help_text="The OCPP-J error code."),
    },
)


class CommandPermission(BasePermission):
    """Operators with `stations.change_chargepoint`; drivers for start and stop only."""

    message = _("Drivers may only start and stop charging.")

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if is_operator(user):
            self.message = _("Sending commands needs the permission to change charge points.")
            return user.has_perm("stations.change_chargepoint")
        return command_action_permitted(requester=requester_for(user), action=view.ocpp_action)


def requester_for(user) -> Requester:
    return Requester(user_id=user.pk, is_driver=not is_operator(user))


def _answer(command: Command) -> Response:
    if command.status != CommandStatus.ANSWERED:
        raise ChargePointRejected(
            {
                "detail": command.error_description or str(ChargePointRejected.default_detail),
                "error_code": command.error_code or "GenericError",
            }
        )
    response = command.response or {}
    body = {"status": answer_status(response), "response": from_ocpp(response)}
    if command.action in START_ACTIONS:
        body["command_id"] = command.pk  # the caller follows its start with it
    return Response(body)


class CommandView(ApiViewMixin, APIView):
    """One OCPP action; urls.py makes a subclass per action (`ocpp_action`)."""

    ocpp_action = ""
    permission_classes = [CommandPermission]

    @idempotent
    def post(self, request, charge_point_id: str):
        serializer = CommandRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            command = commands.command_send_sync(
                charge_point_id=charge_point_id,
                action=self.ocpp_action,
                payload=serializer.validated_data["payload"],
                requester=requester_for(request.user),
                source="api",
            )
        except commands.InvalidPayload as exc:
            raise ValidationError(field_errors(str(exc))) from exc
        except commands.UnknownAction as exc:  # not a command of the charge point's version
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
        return _answer(command)


def kebab_case(action: str) -> str:
    """RemoteStartTransaction -> remote-start-transaction."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", action).lower()


_DRIVER_NOTES = {
    "RemoteStartTransaction": (
        "Drivers may send it with one of their own Accepted id tags, to an online "
        "charge point with a free connector (Available or Preparing), without a "
        "charging profile."
    ),
    "RemoteStopTransaction": "Drivers may stop their own open transaction.",
    "RequestStartTransaction": (
        "Drivers may send it with one of their own Accepted id tokens, to an online "
        "charge point with a free EVSE, without a charging profile."
    ),
    "RequestStopTransaction": "Drivers may stop their own open transaction.",
}
_OPERATORS_ONLY = "Operators only (`stations.change_chargepoint`)."
_COMMAND_ID_NOTE = (
    " The answer carries `command_id`, the id of the command's record (in the charge "
    "point's command history): `GET /api/v1/commands/{command_id}/` follows it until "
    "the charger has started the session (`transaction`)."
)
_REMOTE_START_ID_NOTE = (
    "Optional here: without it the command's own id is sent as `remoteStartId`, which "
    "the charger repeats in the session it starts (how `GET /api/v1/commands/{id}/` "
    "finds that session)."
)


def _api_request_schema(action: str) -> dict:
    """The documented body: the OCPP request, with remote_start_id optional (we fill it in)."""
    schema = command_request_schema(action)
    if action != "RequestStartTransaction" or "remote_start_id" not in schema.get("properties", {}):
        return schema
    schema = copy.deepcopy(schema)
    schema["required"] = [name for name in schema["required"] if name != "remote_start_id"]
    field = schema["properties"]["remote_start_id"]
    field["description"] = f"{field.get('description', '')} {_REMOTE_START_ID_NOTE}".strip()
    return schema


def _access_note(action: str) -> str:
    """Who may send it, as the policy decides (the note follows the policy)."""
    driver = Requester(is_driver=True)
    if command_action_permitted(requester=driver, action=action) and action in _DRIVER_NOTES:
        return _DRIVER_NOTES[action]
    return _OPERATORS_ONLY


def _version_note(action: str) -> str:
    versions = action_versions(action)
    if len(versions) == 1:
        return (
            f"An OCPP {versions[0]} command: a charge point speaking another version "
            "answers 400, naming its version."
        )
    return (
        "OCPP 1.6 and 2.0.1 both have this command, with different fields: the body "
        "must be the request of the version the charge point speaks (see its "
        "`ocpp_version`); the schema below shows both."
    )


def _examples(action: str) -> list[OpenApiExample]:
    examples = [
        OpenApiExample(
            "Answer",
            value=ANSWER_EXAMPLES.get(action, DEFAULT_ANSWER_EXAMPLE),
            response_only=True,
            status_codes=["200"],
        )
    ]
    for version in action_versions(action):
        request_example = EXAMPLES_BY_VERSION[version].get(action)
        if request_example is not None:
            examples.append(
                OpenApiExample(f"OCPP {version}", value=request_example, request_only=True)
            )
    return examples


def command_view_for(action: str) -> type[CommandView]:
    """The view of one action, documented with its OCPP request and answer schemas."""
    name = kebab_case(action)
    versions = action_versions(action)
    view = type(f"{action}CommandView", (CommandView,), {"ocpp_action": action})
    return extend_schema_view(
        post=extend_schema(
            operation_id=f"charge_point_command_{name.replace('-', '_')}",
            tags=["commands"],
            summary=f"Send {action} (OCPP {' and '.join(versions)})",
            description=(
                f"Sends the OCPP `{action}` request (fields in snake_case) and waits for "
                "the charge point's answer (`OCPP_CALL_TIMEOUT`). "
                + _version_note(action)
                + " "
                + _access_note(action)
                + (_COMMAND_ID_NOTE if action in START_ACTIONS else "")
            ),
            request={"application/json": _api_request_schema(action)},
            parameters=[IDEMPOTENCY_KEY_PARAMETER],
            responses={
                200: OpenApiResponse(
                    answer_schema(action), description="The charge point answered"
                ),
                400: invalid({"connector_id": ["'one' is not of type 'integer'"]}),
                **COMMON_ERRORS,
                404: error("No such charge point", "No charge point 'CP-9'."),
                409: error("Not connected", str(ChargePointNotConnected.default_detail)),
                422: error("Idempotency key reused", str(IdempotencyKeyReused.default_detail)),
                502: OpenApiResponse(
                    CallErrorSerializer,
                    description="The charge point answered with a CALLERROR",
                    examples=[
                        OpenApiExample(
                            "CALLERROR",
                            value={
                                "detail": "Requested Action is not known",
                                "error_code": "NotImplemented",
                            },
                        )
                    ],
                ),
                503: error(
                    "Commands cannot be routed (with Retry-After)",
                    str(ChannelLayerUnavailable.default_detail),
                ),
                504: error("No answer in time", str(ChargePointTimeout.default_detail)),
            },
            examples=_examples(action),
        )
    )(view)


class UnknownCommandView(ApiViewMixin, APIView):
    """commands/{anything else}/: a 404 that says which commands exist."""

    schema = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        raise NotFound(
            _("Unknown command %(command)r. See /api/docs/ for the commands.")
            % {"command": kwargs.get("command", "")}
        )


@extend_schema(
    tags=["commands"],
    summary="List the commands sent to a charge point",
    responses={200: CommandSerializer(many=True), **READ_ERRORS},
)
class CommandList(ApiViewMixin, generics.ListAPIView):
    """The commands sent to one charge point, newest first (operators)."""

    serializer_class = CommandSerializer
    permission_classes = [OperatorModelPermissions]
    filterset_class = CommandFilterSet
    ordering_fields = ["created_at", "action", "status"]
    charge_point = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.charge_point = get_object_or_404(
            ChargePoint, charge_point_id=kwargs["charge_point_id"]
        )

    def get_queryset(self):
        commands_ = Command.objects.select_related("requested_by")
        if self.charge_point is None:  # permission checks and the schema
            return commands_.none()
        return commands_.filter(charge_point=self.charge_point)


def commands_visible_to(user):
    """Every command for operators; a driver's own (those they requested) for drivers."""
    commands_ = Command.objects.select_related("charge_point")
    if is_operator(user):
        return commands_
    if not (user and user.is_authenticated):
        return commands_.none()
    return commands_.filter(requested_by=user)


COMMAND_HANDLE_EXAMPLE = {
    "id": 9041,
    "action": "RemoteStartTransaction",
    "charge_point": "CP-0001",
    "status": "answered",
    "outcome": "Accepted",
    "payload": {"connector_id": 1, "id_tag": "3F2A9C0B7D1E4A6B8C9D"},
    "response": {"status": "Accepted"},
    "error_code": "",
    "error_description": "",
    "transaction": 1234,
    "created_at": "2026-11-26T10:00:00Z",
    "sent_at": "2026-11-26T10:00:00.120000Z",
    "answered_at": "2026-11-26T10:00:00.480000Z",
}


@extend_schema_view(
    get=extend_schema(
        operation_id="command_retrieve",
        tags=["commands"],
        summary="Follow a command (e.g. a remote start) by its id",
        description=(
            "One command as recorded: `status` (pending, sent, answered, failed, timed_out, "
            "offline), the charge point's verdict `outcome` (Accepted, Rejected, ...), its "
            "answer, and the times it was created, sent and answered. For a remote start "
            "(RemoteStartTransaction, RequestStartTransaction) `transaction` is the session "
            "the charger started for it, once it has (null until then): OCPP 2.0.1 sessions "
            "are found by their `remoteStartId`, 1.6 ones by the id tag starting on that "
            "charge point (and connector) within `REMOTE_START_LINK_SECONDS` after the start "
            "was accepted. Drivers see the commands they sent; operators (with "
            "`ocpp_consumer.view_command`) every command."
        ),
        responses={
            200: OpenApiResponse(
                CommandHandleSerializer,
                description="The command",
                examples=[
                    OpenApiExample("A remote start that began a session", COMMAND_HANDLE_EXAMPLE)
                ],
            ),
            **READ_ERRORS,
        },
    )
)
class CommandDetail(ApiViewMixin, generics.RetrieveAPIView):
    """A command by its id: the caller's own (drivers) or any (operators)."""

    serializer_class = CommandHandleSerializer
    permission_classes = [OperatorOrDriverReadOnly]
    lookup_url_kwarg = "command_id"

    def get_queryset(self):
        return commands_visible_to(self.request.user)

    def get_object(self):
        command = super().get_object()
        # The session of a start whose link was not made when it began.
        remote_start_command_transaction(command=command)
        return command


@extend_schema_view(
    list=extend_schema(
        tags=["journal"],
        summary="List OCPP frames",
        description="Every frame in and out, newest first (operators only).",
        responses={200: JournalEntrySerializer(many=True), **COMMON_ERRORS},
    ),
    retrieve=extend_schema(
        tags=["journal"],
        summary="Get an OCPP frame",
        responses={200: JournalEntrySerializer, **READ_ERRORS},
    ),
)
class JournalViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Every OCPP frame in and out (operators)."""

    serializer_class = JournalEntrySerializer
    permission_classes = [OperatorModelPermissions]
    filterset_class = JournalEntryFilterSet
    lookup_value_regex = r"[0-9]+"
    # Exact, on indexed columns: a substring search would read the whole journal (hundreds
    # of millions of frames at network scale). A message id, or an action's name.
    search_fields = ["unique_id__exact", "action__exact"]
    ordering_fields = ["timestamp", "id"]

    def get_queryset(self):
        return JournalEntry.objects.select_related("charge_point")

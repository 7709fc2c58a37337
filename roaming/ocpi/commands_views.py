"""The Commands module, Receiver interface: POST /ocpi/cpo/2.2.1/commands/{command}."""

from __future__ import annotations

from ..commands import CommandInvalid, CommandRefused, command_plan, command_response
from ..tasks import execute_command
from .base import OcpiView, ok
from .envelope import INVALID_PARAMETERS, UNKNOWN_LOCATION, OcpiError


class CommandView(OcpiView):
    """Answers at once (CommandResponse); the charger's answer follows at the response_url."""

    def post(self, request, command):
        try:
            plan = command_plan(party=request.ocpi_party, command=command, body=request.ocpi_body)
        except CommandInvalid as exc:
            raise OcpiError(400, INVALID_PARAMETERS, str(exc)) from exc
        except CommandRefused as refused:
            answer = command_response(refused.result, refused.message)
            if refused.unknown_location:
                # The spec's example: OCPI 2003 with the CommandResponse REJECTED.
                return ok(answer, status_code=UNKNOWN_LOCATION, message=refused.message)
            return ok(answer)
        # Queued before answering: if the queue is down the partner gets an error, not a
        # CommandResponse ACCEPTED whose CommandResult never comes.
        execute_command.delay(plan.as_task_args())
        return ok(command_response("ACCEPTED"))

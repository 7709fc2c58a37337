"""Send an OCPP command to a connected charge point from the shell.

    manage.py ocpp_command CP-1 Reset '{"type": "Soft"}'         (OCPP 1.6)
    manage.py ocpp_command CP-2 Reset '{"type": "OnIdle"}'       (OCPP 2.0.1)

The action and payload are those of the OCPP version the charge point
speaks (its `ocpp_version`); another version's action is refused, naming it.

The charge point may be connected to any server process: through Redis on a
cluster (REDIS_URL set), through the database on the embedded default (the
server process holding the socket takes the command within a fraction of a
second; commands/relay.py). A charge point that is not connected, or a
machine where no server runs, is answered at once. Exit status 0 when
answered, 1 otherwise.
"""

import json

from channels.layers import get_channel_layer
from django.core.management.base import BaseCommand, CommandError

from ocpp_consumer import commands
from ocpp_consumer.commands.relay import NO_SERVER_HINT, layer_in_process, servers_running
from ocpp_consumer.models import CommandStatus


class Command(BaseCommand):
    help = (
        "Send an OCPP command (CALL) to a charge point and print its answer; the action "
        "and payload are those of the charge point's OCPP version (1.6 or 2.0.1)."
    )

    def add_arguments(self, parser):
        parser.add_argument("charge_point_id")
        parser.add_argument(
            "action",
            help="OCPP action of the charge point's version, e.g. Reset, GetConfiguration "
            "(1.6), GetVariables, RequestStartTransaction (2.0.1)",
        )
        parser.add_argument(
            "payload", nargs="?", default="{}", help="JSON payload (OCPP camelCase)"
        )
        parser.add_argument("--timeout", type=float, default=None, help="seconds to wait")

    def handle(self, *args, charge_point_id, action, payload, timeout, **options):
        try:
            body = json.loads(payload)
        except ValueError as exc:
            raise CommandError(f"payload is not JSON: {exc}") from exc
        try:
            command = commands.command_send_sync(
                charge_point_id=charge_point_id,
                action=action,
                payload=body,
                source="cli",
                timeout=timeout,
            )
        except commands.ChargePointOffline as exc:
            raise CommandError(_offline_message(str(exc))) from exc
        except commands.CommandError as exc:
            raise CommandError(str(exc)) from exc
        if command.status != CommandStatus.ANSWERED:
            raise CommandError(
                f"{command.get_status_display()}: {command.error_code} {command.error_description}"
            )
        self.stdout.write(json.dumps(command.response))


def _offline_message(message: str) -> str:
    """Say what to do when the reason is that no server runs here."""
    if NO_SERVER_HINT in message or not layer_in_process(get_channel_layer()):
        return message
    if not servers_running():
        return f"{message}; {NO_SERVER_HINT}"
    return message

"""Send an OCPP command to a connected charge point from the shell.

    manage.py ocpp_command CP-1 Reset '{"type": "Soft"}'

Works on a cluster (REDIS_URL set): the charge point may be connected to any
node. Exit status 0 when answered, 1 otherwise.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from ocpp_consumer import commands
from ocpp_consumer.models import CommandStatus


class Command(BaseCommand):
    help = "Send an OCPP 1.6 command (CALL) to a charge point and print its answer."

    def add_arguments(self, parser):
        parser.add_argument("charge_point_id")
        parser.add_argument("action", help="OCPP action, e.g. Reset, GetConfiguration")
        parser.add_argument("payload", nargs="?", default="{}", help="JSON payload (camelCase)")
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
        except commands.CommandError as exc:
            raise CommandError(str(exc)) from exc
        if command.status != CommandStatus.ANSWERED:
            raise CommandError(
                f"{command.get_status_display()}: {command.error_code} {command.error_description}"
            )
        self.stdout.write(json.dumps(command.response))

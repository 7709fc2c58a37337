"""Roll up meter values now, or the history of sessions from before roll-ups existed.

    manage.py meter_rollups              # what the beat task does every 5 minutes
    manage.py meter_rollups --backfill   # every ended session without roll-ups, by id
    manage.py meter_rollups --prune      # then the retention sweep, once

docs/METER_VALUES.md explains roll-ups and retention.
"""

from django.conf import settings
from django.core.management.base import BaseCommand

from stations.services.meter_rollups import meter_rollups_backfill
from stations.tasks import prune_meter_values, rollup_meter_values


class Command(BaseCommand):
    help = "Roll up sessions' meter values (and, with --prune, apply the raw retention)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--backfill",
            action="store_true",
            help="roll up every ended session that has no roll-up yet (after an upgrade)",
        )
        parser.add_argument(
            "--after-id", type=int, default=0, help="--backfill: resume after this session id"
        )
        parser.add_argument(
            "--prune", action="store_true", help="then run the retention sweep once"
        )

    def handle(self, *args, **options):
        if options["backfill"]:
            done = meter_rollups_backfill(
                interval_seconds=max(1, settings.METER_VALUES_ROLLUP_MINUTES) * 60,
                after_pk=options["after_id"],
            )
            self.stdout.write(f"{done} ended sessions rolled up")
        else:
            result = rollup_meter_values()
            self.stdout.write(
                f"{result['ended']} ended sessions rolled up, {result['running']} running extended"
            )
        if options["prune"]:
            result = prune_meter_values()
            self.stdout.write(
                f"{result['deleted']} raw samples of {result['sessions']} sessions deleted, "
                f"{result['skipped']} sessions kept, "
                f"{result['unlinked_deleted']} samples without a session deleted"
            )

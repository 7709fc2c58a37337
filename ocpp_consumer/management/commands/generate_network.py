"""Fill an empty database with a generated charging network (benchmarks, demos, load tests).

    manage.py generate_network                                     # 1,000 charge points
    manage.py generate_network --charge-points 10000 --sessions 1000000 \\
        --journal-rows 100000000 --seed 1                          # the console's target size
    manage.py generate_network --charge-points 20 --sessions 200 --journal-rows 2000  # smoke test

Stations in several time zones; charge points speaking OCPP 1.6 or 2.0.1
(some offline, pending, rejected, never booted); connectors with statuses
(charging, faulted...); drivers and id tags; a default tariff, station
tariffs and a tag-group tariff; ended sessions with meter values and invoices
(a few refused, superseded, disputed); sessions running now; status
notifications, commands and a message journal spread over the retention
period. The same --seed gives the same network (with --now, the same times).
PostgreSQL: rows are streamed with COPY, indexes built afterwards; SQLite:
for small sizes. docs/BENCHMARKS.md lists what a size costs.
"""

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from ocpp_consumer.datagen import NetworkSpec, network_generate
from ocpp_consumer.datagen.generate import NetworkNotEmpty, operator_ensure
from ocpp_consumer.datagen.spec import SpecError


def _moment(text: str) -> datetime:
    moment = parse_datetime(text)
    if moment is None or moment.tzinfo is None:
        raise CommandError("--now wants an ISO 8601 date and time with its offset")
    return moment


class Command(BaseCommand):
    help = (
        "Fill an empty database with a generated charging network: stations, charge points, "
        "drivers, tariffs, sessions with meter values and invoices, commands and the message "
        "journal (see the module docstring and docs/BENCHMARKS.md)."
    )

    def add_arguments(self, parser):
        size = parser.add_argument_group("size")
        size.add_argument("--charge-points", type=int, default=1_000)
        size.add_argument("--sessions", type=int, default=100_000, help="ended sessions")
        size.add_argument("--journal-rows", type=int, default=1_000_000)
        size.add_argument("--stations", type=int, help="default: charge points / 4")
        size.add_argument(
            "--connectors-max", type=int, default=2, help="connectors per charge point, at most"
        )
        size.add_argument(
            "--running", type=int, help="sessions running now (default: 6%% of the connectors)"
        )
        size.add_argument(
            "--meter-values",
            type=int,
            default=4,
            help="readings per ended session (each an energy register and a power value)",
        )
        size.add_argument(
            "--meter-values-sql",
            action="store_true",
            help="PostgreSQL: the database builds the ended sessions' meter values itself "
            "(minutes for hundreds of millions; evenly spread readings, docs/METER_VALUES.md)",
        )
        size.add_argument(
            "--distinct-sessions",
            type=int,
            help="PostgreSQL: draw only this many ended sessions (with their invoices); the "
            "database copies them, each copy a --session-days further back, up to --sessions "
            "(10,000,000 sessions in minutes; meter values then built in the database)",
        )
        size.add_argument("--commands", type=int, help="default: sessions / 10")
        size.add_argument("--id-tags", type=int, help="default: sessions / 20, at least 100")
        size.add_argument("--drivers", type=int, help="default: id tags / 2")
        size.add_argument("--status-log-rows", type=int, help="default: as many as sessions")
        shape = parser.add_argument_group("shape")
        shape.add_argument("--session-days", type=int, default=60, help="history of ended sessions")
        shape.add_argument(
            "--journal-days", type=int, default=30, help="journal and commands (the retention)"
        )
        shape.add_argument("--ocpp201-percent", type=int, default=30)
        shape.add_argument("--offline-percent", type=int, default=7)
        shape.add_argument("--seed", type=int, default=1)
        shape.add_argument(
            "--now", type=_moment, help="the end of the history, ISO 8601 (default: now)"
        )
        parser.add_argument(
            "--operator",
            help="also create (or update) this staff account with every console permission",
        )
        parser.add_argument(
            "--operator-password", help="its password (default: unchanged / unusable)"
        )
        parser.add_argument(
            "--operator-only",
            action="store_true",
            help="only create or update the --operator account (on an existing network)",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="replace what the database holds: deletes every station, charge point, session, "
            "invoice, command and journal row (and what refers to them) first",
        )

    def handle(self, *args, **options):
        if options["operator_only"]:
            if not options["operator"]:
                raise CommandError("--operator-only needs --operator")
            operator_ensure(username=options["operator"], password=options["operator_password"])
            return
        spec = NetworkSpec(
            charge_points=options["charge_points"],
            sessions=options["sessions"],
            journal_rows=options["journal_rows"],
            stations=options["stations"],
            connectors_max=options["connectors_max"],
            running=options["running"],
            meter_values=options["meter_values"],
            meter_values_sql=options["meter_values_sql"],
            session_days=options["session_days"],
            distinct_sessions=options["distinct_sessions"],
            journal_days=options["journal_days"],
            commands=options["commands"],
            id_tags=options["id_tags"],
            drivers=options["drivers"],
            status_log_rows=options["status_log_rows"],
            ocpp201_percent=options["ocpp201_percent"],
            offline_percent=options["offline_percent"],
            seed=options["seed"],
            now=options["now"],
        )
        out = self.stdout.write if options["verbosity"] else (lambda line: None)
        try:
            counts = network_generate(
                spec=spec,
                force=options["force"],
                operator=options["operator"],
                operator_password=options["operator_password"],
                out=out,
            )
        except (SpecError, NetworkNotEmpty) as exc:
            raise CommandError(str(exc)) from exc
        summary = ", ".join(
            f"{name.replace('_', ' ')} {value:,}"
            for name, value in counts.items()
            if name != "seconds"
        )
        out(self.style.SUCCESS(f"generated in {counts['seconds']:,} s: {summary}"))

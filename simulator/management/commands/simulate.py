"""Simulate a fleet of OCPP 1.6J and/or 2.0.1 charge points against a CSMS (load tests).

    manage.py simulate --url ws://127.0.0.1:8000/ocpp/ --charge-points 500 --duration 600

A client of any CSMS URL. Pointed at this machine, it first registers its
charge points and id tags in this project's database (simulator/prepare.py;
--no-setup skips that, --setup asks for it with another URL). Options,
examples and the report: docs/SIMULATE.md. Exit status 0 when it ran
(whatever the CSMS answered), 1 for options that cannot work.
"""

from __future__ import annotations

import json
from dataclasses import replace

from django.core.management.base import BaseCommand, CommandError

from simulator import ConfigError, SimulationConfig, format_report, run_simulation
from simulator.prepare import PrepareError, fleet_prepare, should_prepare

# The id tag of a run that names none (and is not set up: then one per connector).
DEFAULT_ID_TAG = "SIMTAG"


class Command(BaseCommand):
    help = (
        "Simulate OCPP 1.6J or 2.0.1 charge points (or a mix) against a CSMS and report "
        "throughput and latency (docs/SIMULATE.md)."
    )
    # A client of any CSMS: no system checks (they would need this project's database).
    requires_system_checks = []

    def add_arguments(self, parser):
        add = parser.add_argument
        add("--url", required=True, help="base URL, e.g. ws://127.0.0.1:8000/ocpp/ (id appended)")
        add("--charge-points", type=int, default=1, metavar="N", help="how many (default 1)")
        add(
            "--id-prefix",
            default="SIM-",
            metavar="TEXT",
            help="charge point ids: PREFIX00001... (default SIM-)",
        )
        add(
            "--id-start",
            type=int,
            default=1,
            metavar="N",
            help="number of the first id (default 1)",
        )
        add("--connectors", type=int, default=2, metavar="N", help="per charge point (default 2)")
        add(
            "--ocpp-version",
            default="1.6",
            choices=["1.6", "2.0.1", "mixed"],
            help="what the charge points speak (default 1.6); mixed: --mix of them 2.0.1",
        )
        add(
            "--mix",
            type=float,
            metavar="SHARE",
            help="with --ocpp-version mixed: share of 2.0.1 charge points, spread evenly "
            "(default 0.5: every other one)",
        )
        add(
            "--password",
            metavar="TEXT",
            help="HTTP Basic password (security profile 1/2; user = id)",
        )
        add("--insecure", action="store_true", help="wss:// without certificate checks")
        add(
            "--duration",
            type=float,
            default=0.0,
            metavar="S",
            help="seconds; 0 = until Ctrl-C (default)",
        )
        add(
            "--ramp",
            type=float,
            default=50.0,
            metavar="N",
            help="new charge points per second (default 50)",
        )
        add(
            "--heartbeat-interval",
            type=float,
            metavar="S",
            help="seconds (default: the boot answer's)",
        )
        add(
            "--sessions-per-hour",
            type=float,
            default=2.0,
            metavar="N",
            help="per connector (default 2)",
        )
        add(
            "--session-minutes",
            type=float,
            default=30.0,
            metavar="M",
            help="mean length (default 30)",
        )
        add(
            "--meter-interval",
            type=float,
            default=60.0,
            metavar="S",
            help="MeterValues every S s (default 60)",
        )
        add(
            "--id-tag",
            metavar="TAGS",
            help="idTag, or a comma-separated list (default SIMTAG; with the set-up, "
            "SIMTAG0001... one per connector)",
        )
        add("--id-tag-count", type=int, metavar="N", help="N tags per --id-tag: TAG0001..TAGN")
        add(
            "--rate",
            type=float,
            metavar="R",
            help="target CALLs/s in all; heartbeats fill up to it",
        )
        add("--seed", type=int, metavar="N", help="random seed (same seed, same arrivals)")
        add(
            "--call-timeout",
            type=float,
            default=30.0,
            metavar="S",
            help="seconds per CALL (default 30)",
        )
        add(
            "--connect-timeout",
            type=float,
            default=30.0,
            metavar="S",
            help="s per handshake (default 30)",
        )
        add(
            "--backoff-base",
            type=float,
            default=1.0,
            metavar="S",
            help="reconnect back-off base (default 1)",
        )
        add(
            "--backoff-cap",
            type=float,
            default=60.0,
            metavar="S",
            help="reconnect back-off cap (default 60)",
        )
        add(
            "--stop-timeout",
            type=float,
            default=10.0,
            metavar="S",
            help="s to stop sessions at the end (default 10)",
        )
        setup = parser.add_mutually_exclusive_group()
        setup.add_argument(
            "--setup",
            dest="setup",
            action="store_true",
            default=None,
            help="register the charge points and id tags in this project's database "
            "(default: when --url is on this machine)",
        )
        setup.add_argument(
            "--no-setup", dest="setup", action="store_false", help="register nothing"
        )
        add("--json", dest="json_path", metavar="PATH", help="also write the report as JSON")
        add("--quiet", action="store_true", help="no progress line on stderr")

    def handle(self, *args, **options):
        try:
            config = SimulationConfig(
                url=options["url"],
                charge_points=options["charge_points"],
                id_prefix=options["id_prefix"],
                id_start=options["id_start"],
                connectors=options["connectors"],
                password=options["password"],
                insecure=options["insecure"],
                duration=options["duration"],
                ramp=options["ramp"],
                heartbeat_interval=options["heartbeat_interval"],
                sessions_per_hour=options["sessions_per_hour"],
                session_minutes=options["session_minutes"],
                meter_interval=options["meter_interval"],
                id_tags=tuple(
                    tag.strip() for tag in (options["id_tag"] or DEFAULT_ID_TAG).split(",")
                ),
                id_tag_count=options["id_tag_count"],
                rate=options["rate"],
                seed=options["seed"],
                call_timeout=options["call_timeout"],
                connect_timeout=options["connect_timeout"],
                backoff_base=options["backoff_base"],
                backoff_cap=options["backoff_cap"],
                stop_timeout=options["stop_timeout"],
                json_path=options["json_path"],
                ocpp_version=options["ocpp_version"],
                mix=options["mix"],
            ).validate()
        except ConfigError as exc:
            raise CommandError(str(exc)) from exc
        if should_prepare(config, options["setup"]):
            config = self._prepare(config, options)
        progress = None
        if not options["quiet"]:
            progress = self.stderr
            progress.style_func = None  # plain text, not the error colour
            progress.ending = ""  # the runner ends its lines itself ("\r" on a terminal)
        report = run_simulation(config, progress=progress)
        self.stdout.write(format_report(report))
        if config.json_path:
            with open(config.json_path, "w", encoding="utf-8") as file:
                json.dump(report, file, indent=2)
                file.write("\n")

    def _prepare(self, config: SimulationConfig, options: dict) -> SimulationConfig:
        """Register the fleet in this project's database (the CSMS at --url); say what was done.

        Without --id-tag or --id-tag-count each connector gets its own tag
        (SIMTAG0001...): one card is in one session at a time, and a single
        SIMTAG would let one session run in the whole fleet.
        """
        asked = config
        if options["id_tag"] is None and options["id_tag_count"] is None:
            tags = config.charge_points * config.connectors
            try:
                config = replace(config, id_tag_count=tags).validate()
            except ConfigError as exc:
                raise CommandError(f"{exc} (one id tag per connector)") from exc
        try:
            lines = fleet_prepare(config)
        except PrepareError as exc:
            if options["setup"]:
                raise CommandError(f"--setup: {exc}") from exc
            self.stderr.style_func = None
            self.stderr.write(
                f"CSMS set-up skipped ({exc}): sessions start only where the CSMS accepts "
                "the charge points and the id tags (docs/SIMULATE.md)"
            )
            return asked
        self.stderr.style_func = None  # plain text, not the error colour
        for line in lines:
            self.stderr.write(f"CSMS set-up: {line}")
        return config

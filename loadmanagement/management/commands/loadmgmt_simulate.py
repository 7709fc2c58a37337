"""Simulate a day of a site under load management; print its peak and the energy delivered."""

from django.core.management.base import BaseCommand

from loadmanagement.simulation import simulate_day


class Command(BaseCommand):
    help = (
        "Simulate a day of a site with CHARGERS chargers of 11 kW on a grid limit that "
        "feeds FEEDS of them at full power (the allocation engine, without chargers)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--chargers", type=int, default=20)
        parser.add_argument("--feeds", type=int, default=8)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, chargers, feeds, seed, **options):
        report = simulate_day(chargers=chargers, feeds=feeds, seed=seed)
        lines = [
            f"site: {report.chargers} chargers of 11.04 kW, "
            f"limit {report.capacity_w / 1000:.2f} kW",
            f"sessions: {report.sessions} (at most {report.peak_sessions} at once), "
            f"{report.satisfied} got all they asked for",
            f"peak site power: {report.peak_w / 1000:.2f} kW "
            f"(without load management: {report.unmanaged_peak_w / 1000:.2f} kW)",
            f"energy delivered: {report.delivered_wh / 1000:.1f} kWh "
            f"of {report.requested_wh / 1000:.1f} kWh asked for",
            f"session-minutes waiting for room: {report.waited_minutes}",
        ]
        self.stdout.write("\n".join(lines))

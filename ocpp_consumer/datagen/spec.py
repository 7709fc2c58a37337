"""How large a generated network is, and how its parts relate (the options of generate_network)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import datetime


class SpecError(ValueError):
    """An option out of range; the message names it."""


@dataclass(frozen=True)
class NetworkSpec:
    """Sizes of the generated network. None: derived from the others (see `resolved`)."""

    charge_points: int = 1_000
    sessions: int = 100_000
    journal_rows: int = 1_000_000
    stations: int | None = None  # charge_points / 4
    connectors_max: int = 2  # 1 to this many per charge point (DC chargers and walls: 2)
    running: int | None = None  # sessions running now: 6% of the connectors
    meter_values: int = 4  # readings per ended session, each energy register + power
    # PostgreSQL: ended sessions' meter values built by the database (meter_sql.py), fast
    meter_values_sql: bool = False
    session_days: int = 60  # ended sessions spread over this many days before now
    # PostgreSQL: draw this many ended sessions; the database copies them further back in
    # time (a --session-days each copy) up to `sessions` (history_sql.py). None: draw all.
    distinct_sessions: int | None = None
    journal_days: int = 30  # journal rows spread over this many days (the retention)
    commands: int | None = None  # sessions / 10
    id_tags: int | None = None  # sessions / 20, at least 100
    drivers: int | None = None  # id_tags / 2
    status_log_rows: int | None = None  # = sessions
    ocpp201_percent: int = 30  # charge points speaking OCPP 2.0.1
    offline_percent: int = 7
    seed: int = 1
    now: datetime | None = field(default=None)  # the end of the history; None: now

    def resolved(self) -> NetworkSpec:
        """Every size set (derived ones filled in) and checked; raises SpecError."""
        spec = self
        for name in ("charge_points", "connectors_max", "session_days", "journal_days"):
            if getattr(spec, name) < 1:
                raise SpecError(f"{_option(name)} must be at least 1")
        for name in ("sessions", "journal_rows", "meter_values"):
            if getattr(spec, name) < 0:
                raise SpecError(f"{_option(name)} must not be negative")
        for name in ("ocpp201_percent", "offline_percent"):
            if not 0 <= getattr(spec, name) <= 100:
                raise SpecError(f"{_option(name)} must be between 0 and 100")
        if spec.distinct_sessions is not None and not (
            1 <= spec.distinct_sessions <= max(spec.sessions, 1)
        ):
            raise SpecError("--distinct-sessions must be between 1 and --sessions")
        if spec.meter_values == 1:
            raise SpecError("--meter-values must be 0 or at least 2 (a first and a last reading)")
        id_tags = spec.id_tags if spec.id_tags is not None else max(100, spec.sessions // 20)
        derived = {
            "stations": max(1, spec.charge_points // 4),
            "id_tags": id_tags,
            "drivers": id_tags // 2,
            "commands": spec.sessions // 10,
            "status_log_rows": spec.sessions,
            "running": None,  # below: needs the connector count
        }
        spec = replace(
            spec,
            **{
                name: value
                for name, value in derived.items()
                if getattr(spec, name) is None and value is not None
            },
        )
        for name in ("stations", "id_tags", "drivers", "commands", "status_log_rows"):
            if getattr(spec, name) < 0:
                raise SpecError(f"{_option(name)} must not be negative")
        if spec.stations < 1:
            raise SpecError("--stations must be at least 1")
        if spec.id_tags < 1 and spec.sessions:
            raise SpecError("--id-tags must be at least 1 when there are sessions")
        if spec.drivers > spec.id_tags:
            raise SpecError("--drivers cannot exceed --id-tags (each driver has a tag)")
        return spec

    def running_for(self, connectors: int) -> int:
        running = self.running if self.running is not None else connectors * 6 // 100
        if running < 0:
            raise SpecError("--running must not be negative")
        return min(running, connectors)

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")

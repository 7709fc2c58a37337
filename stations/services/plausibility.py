"""What makes a session implausible: the reasons it is disputed instead of billed.

Each check returns a sentence an operator (and, through them, a customer)
understands, or nothing. A disputed session is kept as reported; an operator
accepts, corrects or voids it (services/disputes.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from ..models import Connector, Transaction
from .energy import SessionEnergy

# Short sessions: clocks and meters round; this much is always plausible.
ENERGY_ALLOWANCE_WH = 1000


def _skew() -> timedelta:
    return timedelta(seconds=settings.PLAUSIBILITY_CLOCK_SKEW_SECONDS)


def start_problems(
    *, session: Transaction, registered_at: datetime | None, now: datetime
) -> list[str]:
    problems = []
    if session.start_timestamp > now + _skew():
        problems.append(
            f"Start time {session.start_timestamp:%Y-%m-%d %H:%M:%S} UTC is in the future "
            f"of its receipt ({now:%Y-%m-%d %H:%M:%S} UTC)."
        )
    if registered_at is not None and session.start_timestamp < registered_at - _skew():
        problems.append(
            f"Started {session.start_timestamp:%Y-%m-%d %H:%M:%S} UTC, before the charge point "
            f"was registered ({registered_at:%Y-%m-%d %H:%M:%S} UTC)."
        )
    if session.meter_start < 0:
        problems.append(f"Negative meter reading at start ({session.meter_start} Wh).")
    return problems


def max_power_w(connector: Connector) -> int:
    return connector.max_power_w or settings.CONNECTOR_DEFAULT_MAX_POWER_W


def stop_problems(
    *, session: Transaction, energy: SessionEnergy, power_w: int, now: datetime
) -> list[str]:
    problems = []
    stop = session.stop_timestamp
    if stop > now + _skew():
        problems.append(
            f"Stop time {stop:%Y-%m-%d %H:%M:%S} UTC is in the future of its receipt "
            f"({now:%Y-%m-%d %H:%M:%S} UTC)."
        )
    if stop < session.start_timestamp:
        problems.append("Stopped before it started.")
    if session.meter_stop is not None and session.meter_stop < 0:
        problems.append(f"Negative meter reading at stop ({session.meter_stop} Wh).")
    hours = max((stop - session.start_timestamp).total_seconds(), 0) / 3600
    allowed = power_w * hours * settings.PLAUSIBILITY_POWER_MARGIN + ENERGY_ALLOWANCE_WH
    if energy.energy_wh > allowed:
        problems.append(
            f"{energy.energy_wh} Wh in {hours:.2f} h is more than {power_w / 1000:g} kW can "
            f"deliver ({int(allowed)} Wh with the margin)."
        )
    for drop in energy.backwards:
        problems.append(
            f"The meter register went backwards from {drop.from_wh.normalize():f} to "
            f"{drop.to_wh.normalize():f} Wh "
            "without a reset; that reading was left out."
        )
    if energy.unknown:
        problems.append(
            f"Meter stop ({session.meter_stop} Wh) is below meter start "
            f"({session.meter_start} Wh) and no readings came in between: the energy is unknown."
        )
    return problems

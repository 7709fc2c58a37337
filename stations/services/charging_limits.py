"""Limits from outside the CSMS, and what an EV asks for (OCPP 2.0.1 smart charging).

Both are only recorded to show operators: external limits (a grid
operator's, an energy manager's) bind the station, not us; an EV's charging
needs can be answered by an operator with a TxProfile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ..choices import SessionStatus
from ..models import EVChargingNeeds, ExternalChargingLimit, Transaction


def external_charging_limit_set(
    *,
    charge_point_pk: int,
    connector_id: int,
    source: str,
    is_grid_critical: bool | None,
    schedule: list | None,
) -> ExternalChargingLimit:
    """Record the limit a source sets on an EVSE (0: the whole station), replacing its last."""
    limit, _ = ExternalChargingLimit.objects.update_or_create(
        charge_point_id=charge_point_pk,
        connector_id=connector_id,
        source=source,
        defaults={"is_grid_critical": is_grid_critical, "schedule": schedule, "cleared_at": None},
    )
    return limit


def external_charging_limit_clear(
    *, charge_point_pk: int, source: str, connector_id: int | None
) -> int:
    """Mark cleared a source's limits on an EVSE, or on every EVSE (None); return how many."""
    limits = ExternalChargingLimit.objects.filter(
        charge_point_id=charge_point_pk, source=source, cleared_at__isnull=True
    )
    if connector_id is not None:
        limits = limits.filter(connector_id=connector_id)
    return limits.update(cleared_at=timezone.now())


@dataclass(frozen=True)
class ChargingNeeds:
    """What an EV asked for: energy transfer mode, departure, and the parameters as sent."""

    requested_energy_transfer: str
    departure_time: datetime | None
    max_schedule_tuples: int | None
    parameters: dict


def _running_session(*, charge_point_pk: int, connector_id: int) -> int | None:
    """The session not stopped on the EVSE: running, or waiting for its driver's token."""
    return (
        Transaction.objects.filter(
            charge_point_id=charge_point_pk,
            connector__connector_id=connector_id,
            stop_timestamp__isnull=True,
        )
        .exclude(status__in=(SessionStatus.ENDED, SessionStatus.SUPERSEDED))
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )


@transaction.atomic
def ev_charging_needs_record(
    *, charge_point_pk: int, connector_id: int, needs: ChargingNeeds
) -> EVChargingNeeds:
    """Keep an EV's needs on the session running on that EVSE (on the EVSE if none runs)."""
    record, _ = EVChargingNeeds.objects.update_or_create(
        charge_point_id=charge_point_pk,
        connector_id=connector_id,
        transaction_id=_running_session(charge_point_pk=charge_point_pk, connector_id=connector_id),
        defaults={
            "requested_energy_transfer": needs.requested_energy_transfer,
            "departure_time": needs.departure_time,
            "max_schedule_tuples": needs.max_schedule_tuples,
            "needs": needs.parameters,
        },
    )
    return record


@transaction.atomic
def ev_charging_schedule_record(
    *, charge_point_pk: int, connector_id: int, time_base: datetime, schedule: dict
) -> EVChargingNeeds:
    """Keep the schedule an EV chose, next to its needs (kept verbatim: only shown)."""
    record, _ = EVChargingNeeds.objects.update_or_create(
        charge_point_id=charge_point_pk,
        connector_id=connector_id,
        transaction_id=_running_session(charge_point_pk=charge_point_pk, connector_id=connector_id),
        defaults={"schedule_time_base": time_base, "schedule": schedule},
    )
    return record

"""The events a station reports (NotifyEvent): stored, and the problems among them tracked.

A problem (an alert, or an event of a monitor of severity PROBLEM_SEVERITY_MAX
or worse) stays open until the station reports the return to normal of the
same variable (and monitor), or an operator closes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ..choices import EventTrigger
from ..models import DeviceEvent, VariableMonitor
from ..models_monitoring import PROBLEM_SEVERITY_MAX
from .variables import VariableKey, _variable


@dataclass(frozen=True)
class EventData:
    """One EventDataType of a NotifyEvent, in neutral terms."""

    key: VariableKey
    event_id: int
    timestamp: datetime
    trigger: str
    actual_value: str
    notification_type: str
    cause: int | None = None
    tech_code: str = ""
    tech_info: str = ""
    cleared: bool = False
    transaction_id: str = ""
    variable_monitoring_id: int | None = None


def _is_problem(data: EventData, severity: int | None) -> bool:
    if data.cleared:
        return False
    if data.trigger == EventTrigger.ALERTING:
        return True
    return severity is not None and severity <= PROBLEM_SEVERITY_MAX


@transaction.atomic
def device_events_record(*, charge_point_pk: int, events: Iterable[EventData]) -> list[DeviceEvent]:
    """Store the events; a return to normal closes the open problems it ends."""
    events = list(events)
    monitor_ids = {e.variable_monitoring_id for e in events if e.variable_monitoring_id is not None}
    severities = dict(
        VariableMonitor.objects.filter(
            charge_point_id=charge_point_pk, monitor_id__in=monitor_ids
        ).values_list("monitor_id", "severity")
    )
    now = timezone.now()
    stored = []
    for data in events:
        variable = _variable(charge_point_pk=charge_point_pk, key=data.key)
        severity = severities.get(data.variable_monitoring_id)
        event = DeviceEvent.objects.create(
            charge_point_id=charge_point_pk,
            variable=variable,
            event_id=data.event_id,
            timestamp=data.timestamp,
            trigger=data.trigger,
            cause=data.cause,
            actual_value=data.actual_value,
            tech_code=data.tech_code,
            tech_info=data.tech_info,
            cleared=data.cleared,
            transaction_id=data.transaction_id,
            variable_monitoring_id=data.variable_monitoring_id,
            notification_type=data.notification_type,
            severity=severity,
            is_problem=_is_problem(data, severity),
        )
        if data.cleared:
            ended = DeviceEvent.objects.filter(
                charge_point_id=charge_point_pk,
                variable=variable,
                is_problem=True,
                cleared_at__isnull=True,
            )
            if data.variable_monitoring_id is not None:
                ended = ended.filter(variable_monitoring_id=data.variable_monitoring_id)
            ended.update(cleared_at=now)
        stored.append(event)
    return stored


def device_events_close(*, event_pks: Iterable[int]) -> int:
    """An operator closes problems the station will not clear itself (acknowledged)."""
    return DeviceEvent.objects.filter(
        pk__in=list(event_pks), is_problem=True, cleared_at__isnull=True
    ).update(cleared_at=timezone.now())

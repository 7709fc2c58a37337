"""Monitors of a charge point's variables: set, reported, cleared; its monitoring base and level.

Values come as neutral dataclasses; the OCPP adapter translates
SetVariableMonitoring, NotifyMonitoringReport and ClearVariableMonitoring.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ..choices import MonitoringBase, ReportStatus
from ..models import MonitoringReport, MonitoringSetting, VariableMonitor
from .variables import VariableKey, _variable

ACCEPTED = "Accepted"
# ClearVariableMonitoring: the monitor is gone either way.
CLEARED_STATUSES = ("Accepted", "NotFound")
_ANSWERED_STATUS = {
    ACCEPTED: ReportStatus.ACCEPTED,
    "Rejected": ReportStatus.REJECTED,
    "NotSupported": ReportStatus.NOT_SUPPORTED,
    "EmptyResultSet": ReportStatus.EMPTY_RESULT_SET,
}


@dataclass(frozen=True)
class MonitorSpec:
    """A monitor on a variable; `monitor_id` is the station's (None: not given one)."""

    key: VariableKey
    type: str
    value: float
    severity: int
    transaction: bool = False
    monitor_id: int | None = None


@dataclass(frozen=True)
class MonitorSetOutcome:
    """A monitor asked for and the station's answer (status, and the id it gave)."""

    spec: MonitorSpec
    status: str


def _monitor_store(
    *, charge_point_pk: int, spec: MonitorSpec, set_status: str, request_id: int | None
) -> VariableMonitor:
    variable = _variable(charge_point_pk=charge_point_pk, key=spec.key)
    fields = {
        "variable": variable,
        "type": spec.type,
        "value": spec.value,
        "severity": spec.severity,
        "transaction": spec.transaction,
        "set_status": set_status,
        "report_request_id": request_id,
    }
    if spec.monitor_id is None:  # refused: keep the last refusal per variable and type
        monitor, _ = VariableMonitor.objects.update_or_create(
            charge_point_id=charge_point_pk,
            monitor_id=None,
            variable=variable,
            type=spec.type,
            defaults=fields,
        )
        return monitor
    monitor, _ = VariableMonitor.objects.update_or_create(
        charge_point_id=charge_point_pk, monitor_id=spec.monitor_id, defaults=fields
    )
    return monitor


@transaction.atomic
def monitors_set(
    *, charge_point_pk: int, outcomes: Iterable[MonitorSetOutcome]
) -> list[VariableMonitor]:
    """Record each answer of SetVariableMonitoring.

    An accepted monitor is stored under the id the station gave it (one set
    with an existing id replaces that monitor); a refused one is kept
    without an id, with the station's reason, so the operator sees why.
    """
    stored = []
    for outcome in outcomes:
        spec = outcome.spec
        if outcome.status != ACCEPTED:
            spec = replace(spec, monitor_id=None)
        stored.append(
            _monitor_store(
                charge_point_pk=charge_point_pk,
                spec=spec,
                set_status=outcome.status,
                request_id=None,
            )
        )
    return stored


def monitors_cleared(*, charge_point_pk: int, results: Iterable[tuple[int, str]]) -> int:
    """Forget the monitors the station cleared (or never had): (id, status) pairs."""
    gone = [monitor_id for monitor_id, status in results if status in CLEARED_STATUSES]
    deleted, _ = VariableMonitor.objects.filter(
        charge_point_id=charge_point_pk, monitor_id__in=gone
    ).delete()
    return deleted


@transaction.atomic
def monitoring_base_set(*, charge_point_pk: int, monitoring_base: str) -> MonitoringSetting:
    """The station accepted a monitoring base.

    FactoryDefault and HardWiredOnly remove the custom monitors on the
    station, so the ones we hold are gone too (a GetMonitoringReport lists
    what remains).
    """
    setting, _ = MonitoringSetting.objects.update_or_create(
        charge_point_id=charge_point_pk, defaults={"monitoring_base": monitoring_base}
    )
    if monitoring_base != MonitoringBase.ALL:
        VariableMonitor.objects.filter(charge_point_id=charge_point_pk).delete()
    return setting


def monitoring_level_set(*, charge_point_pk: int, severity: int) -> MonitoringSetting:
    setting, _ = MonitoringSetting.objects.update_or_create(
        charge_point_id=charge_point_pk, defaults={"monitoring_level": severity}
    )
    return setting


@transaction.atomic
def monitoring_report_requested(
    *, charge_point_pk: int, request_id: int, answer: str
) -> MonitoringReport:
    """Record the answer to GetMonitoringReport (parts that overtook it are kept)."""
    now = timezone.now()
    report, created = MonitoringReport.objects.select_for_update().get_or_create(
        charge_point_id=charge_point_pk, request_id=request_id, defaults={"answered_at": now}
    )
    status = _ANSWERED_STATUS.get(answer, ReportStatus.REJECTED)
    if created or not (report.parts_received and status == ReportStatus.ACCEPTED):
        report.status = status
    report.answered_at = now
    report.save()
    return report


@transaction.atomic
def monitoring_report_part_record(
    *,
    charge_point_pk: int,
    request_id: int,
    seq_no: int,
    generated_at: datetime,
    to_be_continued: bool,
    monitors: Sequence[MonitorSpec],
) -> MonitoringReport:
    """Store one part of a monitoring report; the part without `to_be_continued` completes it."""
    report, _ = MonitoringReport.objects.select_for_update().get_or_create(
        charge_point_id=charge_point_pk, request_id=request_id
    )
    for spec in monitors:
        _monitor_store(
            charge_point_pk=charge_point_pk, spec=spec, set_status="", request_id=request_id
        )
    report.monitors_reported += len(monitors)
    report.parts_received += 1
    report.last_seq_no = seq_no if report.last_seq_no is None else max(report.last_seq_no, seq_no)
    report.generated_at = generated_at
    if to_be_continued:
        report.status = ReportStatus.RECEIVING
    else:
        report.status = ReportStatus.COMPLETE
        report.completed_at = timezone.now()
    report.save()
    return report

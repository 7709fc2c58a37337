"""Reports asked of a charge point and their parts (NotifyReport), assembled by request id."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..choices import ReportStatus
from ..models import DeviceReport
from ..selectors import report_request_id_next
from .variables import ReportedVariable, variables_report

ACCEPTED = "Accepted"
# The charger's answer to GetBaseReport / GetReport -> the report's status.
_ANSWERED_STATUS = {
    ACCEPTED: ReportStatus.ACCEPTED,
    "Rejected": ReportStatus.REJECTED,
    "NotSupported": ReportStatus.NOT_SUPPORTED,
    "EmptyResultSet": ReportStatus.EMPTY_RESULT_SET,
}


def report_reserve(*, charge_point_pk: int, report_base: str) -> DeviceReport:
    """Choose a request id this charge point has not seen and keep it for a report request.

    The row holds the id (unique per charge point) until the answer comes.
    """
    for _attempt in range(5):
        request_id = report_request_id_next(charge_point_pk=charge_point_pk)
        try:
            with transaction.atomic():
                return DeviceReport.objects.create(
                    charge_point_id=charge_point_pk, request_id=request_id, report_base=report_base
                )
        except IntegrityError:  # another request took it meanwhile
            continue
    raise IntegrityError("no free report request id")


def report_reservation_release(*, report_pk: int) -> None:
    """Give back a reserved request id whose request was never sent (offline, refused)."""
    DeviceReport.objects.filter(
        pk=report_pk, status=ReportStatus.REQUESTED, answered_at__isnull=True, parts_received=0
    ).delete()


@transaction.atomic
def report_requested(
    *, charge_point_pk: int, request_id: int, report_base: str, answer: str
) -> DeviceReport:
    """Record the charger's answer to a report request.

    The row may exist: reserved (report_reserve), or made by its first parts
    that overtook the answer on the way to the database (those are kept). A
    request id answered before starts the report afresh.
    """
    now = timezone.now()
    report, created = DeviceReport.objects.select_for_update().get_or_create(
        charge_point_id=charge_point_pk,
        request_id=request_id,
        defaults={"report_base": report_base, "answered_at": now},
    )
    if not created and report.answered_at is not None:
        report.parts_received = 0
        report.last_seq_no = None
        report.variables_reported = 0
        report.generated_at = None
        report.completed_at = None
        report.created_at = now
    report.report_base = report_base
    report.answered_at = now
    status = _ANSWERED_STATUS.get(answer, ReportStatus.REJECTED)
    if not (report.parts_received and status == ReportStatus.ACCEPTED):
        report.status = status
    report.save()
    return report


@transaction.atomic
def report_part_record(
    *,
    charge_point_pk: int,
    request_id: int,
    seq_no: int,
    generated_at: datetime,
    to_be_continued: bool,
    variables: Sequence[ReportedVariable],
) -> DeviceReport:
    """Store one part of a report; the part without `to_be_continued` completes it."""
    report, _ = DeviceReport.objects.select_for_update().get_or_create(
        charge_point_id=charge_point_pk, request_id=request_id
    )
    report.variables_reported += variables_report(
        charge_point_pk=charge_point_pk, variables=variables, request_id=request_id
    )
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

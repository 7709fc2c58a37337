"""Reads of the device model app."""

from __future__ import annotations

from django.db.models import Max, QuerySet

from .choices import ReportStatus
from .models import DeviceReport, DeviceVariable


def device_variables(
    *, charge_point_pk: int, component: str = "", variable: str = ""
) -> QuerySet[DeviceVariable]:
    """A charge point's variables with their attributes; names match without regard to case."""
    variables = DeviceVariable.objects.filter(charge_point_id=charge_point_pk)
    if component:
        variables = variables.filter(component__iexact=component)
    if variable:
        variables = variables.filter(name__iexact=variable)
    return variables.prefetch_related("attributes")


def report_request_id_next(*, charge_point_pk: int) -> int:
    """A request id this charge point has not been asked a report with yet."""
    highest = DeviceReport.objects.filter(charge_point_id=charge_point_pk).aggregate(
        highest=Max("request_id")
    )["highest"]
    return 1 if highest is None else highest + 1


def report_last_completed(*, charge_point_pk: int) -> DeviceReport | None:
    return (
        DeviceReport.objects.filter(charge_point_id=charge_point_pk, status=ReportStatus.COMPLETE)
        .order_by("-completed_at")
        .first()
    )

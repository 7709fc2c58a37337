"""The device model's services against the database."""

from datetime import UTC, datetime

import pytest

from devicemodel.choices import ReportStatus
from devicemodel.selectors import device_variables, report_last_completed, report_request_id_next
from devicemodel.services import (
    AttributeReport,
    Characteristics,
    ReportedVariable,
    VariableKey,
    report_part_record,
    report_requested,
    report_reservation_release,
    report_reserve,
    variables_report,
)
from stations.models import ChargePoint

pytestmark = pytest.mark.django_db

GENERATED = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def charge_point():
    return ChargePoint.objects.create(charge_point_id="CP-DM", ocpp_version="2.0.1")


def heartbeat(value="300", evse_id=None):
    return ReportedVariable(
        key=VariableKey(component="OCPPCommCtrlr", variable="HeartbeatInterval", evse_id=evse_id),
        attributes=(AttributeReport(value=value),),
        characteristics=Characteristics(data_type="integer", unit="s", supports_monitoring=False),
    )


def test_request_ids_are_reserved_unique_per_charge_point(charge_point):
    other = ChargePoint.objects.create(charge_point_id="CP-OTHER")
    first = report_reserve(charge_point_pk=charge_point.pk, report_base="FullInventory")
    second = report_reserve(charge_point_pk=charge_point.pk, report_base="SummaryInventory")
    elsewhere = report_reserve(charge_point_pk=other.pk, report_base="FullInventory")
    assert (first.request_id, second.request_id, elsewhere.request_id) == (1, 2, 1)
    assert first.status == ReportStatus.REQUESTED
    assert report_request_id_next(charge_point_pk=charge_point.pk) == 3


def test_parts_that_overtake_the_answer_are_kept(charge_point):
    report_part_record(
        charge_point_pk=charge_point.pk,
        request_id=7,
        seq_no=0,
        generated_at=GENERATED,
        to_be_continued=True,
        variables=[heartbeat()],
    )
    report = report_requested(
        charge_point_pk=charge_point.pk,
        request_id=7,
        report_base="FullInventory",
        answer="Accepted",
    )
    assert (report.status, report.parts_received, report.report_base) == (
        ReportStatus.RECEIVING,
        1,
        "FullInventory",
    )


def test_a_request_id_used_again_starts_the_report_afresh(charge_point):
    report_requested(
        charge_point_pk=charge_point.pk,
        request_id=3,
        report_base="FullInventory",
        answer="Accepted",
    )
    report_part_record(
        charge_point_pk=charge_point.pk,
        request_id=3,
        seq_no=0,
        generated_at=GENERATED,
        to_be_continued=False,
        variables=[heartbeat()],
    )
    assert report_last_completed(charge_point_pk=charge_point.pk).request_id == 3
    report = report_requested(
        charge_point_pk=charge_point.pk,
        request_id=3,
        report_base="SummaryInventory",
        answer="Accepted",
    )
    assert (report.status, report.parts_received, report.completed_at) == ("Accepted", 0, None)


def test_a_missing_part_shows(charge_point):
    for seq_no, tbc in ((0, True), (2, False)):
        report = report_part_record(
            charge_point_pk=charge_point.pk,
            request_id=9,
            seq_no=seq_no,
            generated_at=GENERATED,
            to_be_continued=tbc,
            variables=[],
        )
    assert (report.status, report.missing_parts) == (ReportStatus.COMPLETE, 1)


def test_one_row_per_variable_identity_evse_included(charge_point):
    variables_report(
        charge_point_pk=charge_point.pk, variables=[heartbeat(), heartbeat(evse_id=1)], request_id=1
    )
    variables_report(charge_point_pk=charge_point.pk, variables=[heartbeat("60")], request_id=2)
    variables = device_variables(charge_point_pk=charge_point.pk, variable="heartbeatinterval")
    assert sorted(
        (v.evse_id or 0, v.attributes.get().value, v.report_request_id) for v in variables
    ) == [(0, "60", 2), (1, "300", 1)]


def test_a_reservation_never_sent_is_released(charge_point):
    report = report_reserve(charge_point_pk=charge_point.pk, report_base="FullInventory")
    report_reservation_release(report_pk=report.pk)
    assert report_request_id_next(charge_point_pk=charge_point.pk) == 1
    answered = report_reserve(charge_point_pk=charge_point.pk, report_base="FullInventory")
    report_requested(
        charge_point_pk=charge_point.pk,
        request_id=1,
        report_base="FullInventory",
        answer="Rejected",
    )
    report_reservation_release(report_pk=answered.pk)  # answered: kept
    assert report_request_id_next(charge_point_pk=charge_point.pk) == 2

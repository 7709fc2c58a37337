"""What charge points send is shown escaped everywhere in the console."""

import pytest
from django.urls import reverse

from stations.models import ChargePoint, DataTransferRecord, SecurityEvent
from stations.services import connector_status_update

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
ESCAPED = b"&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture
def hostile_charge_point():
    charge_point = ChargePoint.objects.create(
        charge_point_id="XSS-1",
        vendor=SCRIPT[:20],
        model="<img src=x>",
        firmware_version=SCRIPT,
        charge_point_serial_number="<b>x</b>",
    )
    connector_status_update(
        charge_point_pk=charge_point.pk,
        connector_id=1,
        status="Faulted",
        error_code="OtherError",
        info="<svg onload=x>",
        vendor_error_code="<i>e</i>",
    )
    DataTransferRecord.objects.create(
        charge_point=charge_point, vendor_id=SCRIPT, data=SCRIPT, response_status="Accepted"
    )
    SecurityEvent.objects.create(
        charge_point=charge_point,
        origin="charge_point",
        event_type="InvalidMessages",
        tech_info=SCRIPT,
        timestamp="2026-11-26T10:00:00Z",
    )
    return charge_point


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:stations_chargepoint_changelist",
        "admin:stations_connector_changelist",
        "admin:stations_connectorstatuslog_changelist",
        "admin:stations_datatransferrecord_changelist",
        "admin:stations_securityevent_changelist",
    ],
)
def test_changelists_escape_charger_supplied_text(admin_client, hostile_charge_point, url_name):
    content = admin_client.get(reverse(url_name)).content
    assert b"<script>alert(1)" not in content
    assert b"<img src=x>" not in content and b"<svg onload" not in content


def test_charge_point_page_escapes_charger_supplied_text(admin_client, hostile_charge_point):
    page = admin_client.get(
        reverse("admin:stations_chargepoint_change", args=[hostile_charge_point.pk])
    )
    assert ESCAPED in page.content
    assert b"<script>alert(1)" not in page.content
    assert b"<b>x</b>" not in page.content


def test_data_transfer_page_escapes_its_data(admin_client, hostile_charge_point):
    record = DataTransferRecord.objects.get()
    page = admin_client.get(reverse("admin:stations_datatransferrecord_change", args=[record.pk]))
    assert ESCAPED in page.content and b"<script>alert(1)" not in page.content

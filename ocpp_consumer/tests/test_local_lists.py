"""SendLocalList in OCPP terms: built from our updates with the one idTagInfo builder."""

from datetime import UTC, datetime

import pytest

from api_support.testing import make_charge_point
from drivers.models import IdTag, LocalAuthList
from drivers.selectors import Authorization
from drivers.services import LocalListEntry, LocalListUpdate
from ocpp_consumer.id_tag_info import id_tag_info
from ocpp_consumer.local_lists import (
    local_list_version_answered,
    send_local_list_answered,
    send_local_list_payload,
)

EXPIRY = datetime(2027, 1, 1, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("authorization", "info"),
    [
        (Authorization(status="Invalid"), {"status": "Invalid"}),
        (
            Authorization(status="Accepted", expiry_date=EXPIRY, parent_id_tag="FLEET"),
            {
                "status": "Accepted",
                "expiryDate": "2027-01-01T12:30:00.000Z",
                "parentIdTag": "FLEET",
            },
        ),
    ],
)
def test_id_tag_info_leaves_out_what_is_unknown(authorization, info):
    assert id_tag_info(authorization) == info


def test_send_local_list_payload_deletes_entries_without_an_authorization():
    update = LocalListUpdate(
        version=3,
        full=False,
        entries=(
            LocalListEntry("A-1", Authorization(status="Blocked", expiry_date=EXPIRY)),
            LocalListEntry("B-2", None),
        ),
    )
    assert send_local_list_payload(update) == {
        "listVersion": 3,
        "updateType": "Differential",
        "localAuthorizationList": [
            {
                "idTag": "A-1",
                "idTagInfo": {"status": "Blocked", "expiryDate": "2027-01-01T12:30:00.000Z"},
            },
            {"idTag": "B-2"},
        ],
    }


@pytest.mark.django_db
def test_answers_become_plain_values_for_the_drivers_services():
    charge_point = make_charge_point("CP1")
    IdTag.objects.create(id_tag="A-1")
    request = {
        "listVersion": 2,
        "updateType": "Full",
        "localAuthorizationList": [{"idTag": "a-1", "idTagInfo": {"status": "Accepted"}}],
    }
    send_local_list_answered(
        charge_point_pk=charge_point.pk, request=request, response={"status": "Failed"}
    )
    assert not LocalAuthList.objects.filter(version=2).exists()
    send_local_list_answered(
        charge_point_pk=charge_point.pk, request=request, response={"status": "Accepted"}
    )
    local_list_version_answered(
        charge_point_pk=charge_point.pk, request={}, response={"listVersion": 2}
    )
    current = LocalAuthList.objects.get(charge_point=charge_point)
    assert (current.version, current.reported_version) == (2, 2)
    assert list(current.id_tags.values_list("id_tag", flat=True)) == ["A-1"]

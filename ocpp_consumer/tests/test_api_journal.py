"""The message journal over the API: operators only, read-only, filterable."""

from datetime import timedelta

import pytest
from django.utils import timezone

from api_support.testing import client_for, make_charge_point, make_driver, make_operator
from ocpp_consumer.models import JournalEntry

pytestmark = pytest.mark.django_db

JOURNAL = "/api/v1/journal/"


@pytest.fixture
def entries():
    cp1, cp2 = make_charge_point("CP1"), make_charge_point("CP2")
    now = timezone.now()
    rows = [
        (cp1, "in", 2, "BootNotification", now - timedelta(minutes=3)),
        (cp1, "out", 3, "BootNotification", now - timedelta(minutes=2)),
        (cp2, "in", 2, "Heartbeat", now - timedelta(minutes=1)),
        (cp1, "out", 2, "Reset", now),
    ]
    return [
        JournalEntry.objects.create(
            charge_point=cp,
            direction=direction,
            message_type=message_type,
            unique_id=f"m{index}",
            action=action,
            payload={"chargePointVendor": "ACME"} if action == "BootNotification" else {},
            timestamp=timestamp,
        )
        for index, (cp, direction, message_type, action, timestamp) in enumerate(rows)
    ]


def unique_ids(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["unique_id"] for row in response.json()["results"]]


def test_journal_is_for_operators_with_view_permission(entries):
    assert client_for().get(JOURNAL).status_code == 401
    assert client_for(make_driver("alice", "TAG")).get(JOURNAL).status_code == 403
    assert client_for(make_driver("alice2")).get(f"{JOURNAL}{entries[0].pk}/").status_code == 403
    assert client_for(make_operator()).get(JOURNAL).status_code == 403
    client = client_for(make_operator("ocpp_consumer.view_journalentry"))
    assert unique_ids(client.get(JOURNAL)) == ["m3", "m2", "m1", "m0"]


def test_journal_entry_as_on_the_wire(entries):
    client = client_for(make_operator("ocpp_consumer.view_journalentry"))
    body = client.get(f"{JOURNAL}{entries[0].pk}/").json()
    assert body["charge_point"] == "CP1"
    assert body["direction"] == "in"
    assert body["message_type"] == 2
    assert body["action"] == "BootNotification"
    assert body["payload"] == {"chargePointVendor": "ACME"}


def test_journal_is_read_only(entries):
    client = client_for(
        make_operator("ocpp_consumer.view_journalentry", "ocpp_consumer.delete_journalentry")
    )
    assert client.delete(f"{JOURNAL}{entries[0].pk}/").status_code == 405
    assert JournalEntry.objects.count() == 4


def test_journal_filters(entries):
    client = client_for(make_operator("ocpp_consumer.view_journalentry"))
    assert unique_ids(client.get(JOURNAL, {"charge_point": "CP2"})) == ["m2"]
    assert unique_ids(client.get(JOURNAL, {"action": "BootNotification"})) == ["m1", "m0"]
    assert unique_ids(client.get(JOURNAL, {"direction": "out"})) == ["m3", "m1"]
    assert unique_ids(client.get(JOURNAL, {"message_type": 3})) == ["m1"]
    since = (entries[2].timestamp - timedelta(seconds=1)).isoformat()
    assert unique_ids(client.get(JOURNAL, {"after": since})) == ["m3", "m2"]
    assert client.get(JOURNAL, {"direction": "sideways"}).status_code == 400


def test_journal_list_query_count_does_not_grow_with_rows(entries, django_assert_max_num_queries):
    charge_point = entries[0].charge_point
    JournalEntry.objects.bulk_create(
        JournalEntry(charge_point=charge_point, direction="in", timestamp=timezone.now())
        for _ in range(20)
    )
    client = client_for(make_operator("ocpp_consumer.view_journalentry"))
    with django_assert_max_num_queries(5):
        response = client.get(JOURNAL)
    assert response.json()["count"] == 24


def test_search_finds_a_message_id_or_an_action_exactly(entries):
    client = client_for(make_operator("ocpp_consumer.view_journalentry"))
    assert unique_ids(client.get(JOURNAL, {"search": "m2"})) == ["m2"]
    assert unique_ids(client.get(JOURNAL, {"search": "BootNotification"})) == ["m1", "m0"]
    # No substring scan of the journal: part of an id or an action finds nothing.
    assert unique_ids(client.get(JOURNAL, {"search": "Boot"})) == []


def test_error_code_filter_finds_call_errors(entries):
    cp = entries[0].charge_point
    error = JournalEntry.objects.create(
        charge_point=cp,
        direction="out",
        message_type=4,
        unique_id="m9",
        error_code="FormationViolation",
        payload={},
        timestamp=timezone.now(),
    )
    client = client_for(make_operator("ocpp_consumer.view_journalentry"))
    assert unique_ids(client.get(JOURNAL, {"error_code": "FormationViolation"})) == [
        error.unique_id
    ]
    assert unique_ids(client.get(JOURNAL, {"error_code": "NotImplemented"})) == []

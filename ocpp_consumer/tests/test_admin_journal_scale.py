"""The journal's console list at scale: no query grows with the table, labels, search, dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from ocpp_consumer.admin_journal import KNOWN_ACTIONS
from ocpp_consumer.models import Direction, JournalEntry, MessageType
from stations.models import ChargePoint

pytestmark = pytest.mark.django_db

URL = reverse("admin:ocpp_consumer_journalentry_changelist")
START = datetime(2026, 10, 30, 22, 0, tzinfo=UTC)


@pytest.fixture
def operator(django_user_model):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user(
        username="journal-reader", password="pw-journal-reader-1", is_staff=True
    )
    user.user_permissions.add(Permission.objects.get(codename="view_journalentry"))
    client = Client()
    client.force_login(user)
    return client


def frames(charge_point, count: int, *, start=START, step=timedelta(hours=1), **fields):
    rows = []
    for n in range(count):
        kind = (MessageType.CALL, MessageType.CALLRESULT, MessageType.CALLERROR)[n % 3]
        values = {
            "charge_point": charge_point,
            "direction": Direction.IN if n % 2 else Direction.OUT,
            "message_type": kind,
            "unique_id": f"{charge_point.charge_point_id}-{n}",
            "action": ("Heartbeat", "MeterValues", "StatusNotification")[n % 3],
            "payload": {},
            "error_code": "FormationViolation" if kind == MessageType.CALLERROR else "",
            "timestamp": start + n * step,
        }
        values.update(fields)
        rows.append(JournalEntry(**values))
    JournalEntry.objects.bulk_create(rows)


def list_queries(client, django_assert_max_num_queries, query: str, limit: int) -> list[str]:
    with django_assert_max_num_queries(limit) as captured:
        response = client.get(URL + query)
    assert response.status_code == 200
    return [q["sql"] for q in captured.captured_queries]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?action=MeterValues",
        "?message_type__exact=4",
        "?direction__exact=in",
        "?q=CP-A",
        "?charge_point__id__exact={cp}",
        "?timestamp__year=2026&timestamp__month=11",
        "?timestamp__year=2026&timestamp__month=11&timestamp__day=2",
    ],
)
def test_the_list_costs_the_same_few_queries_for_10_or_100_rows(
    operator, django_assert_max_num_queries, query
):
    charge_point = ChargePoint.objects.create(charge_point_id="CP-A")
    frames(charge_point, 10, step=timedelta(hours=12))  # 30 Oct to 4 Nov: every list has rows
    query = query.format(cp=charge_point.pk)
    small = list_queries(operator, django_assert_max_num_queries, query, 24)
    frames(charge_point, 90, start=START + timedelta(days=1), step=timedelta(minutes=13))
    large = list_queries(operator, django_assert_max_num_queries, query, 24)
    assert len(large) == len(small)
    # Never a DISTINCT over the table: neither the action filter nor the date navigation.
    assert not [sql for sql in large if "DISTINCT" in sql.upper()]


def test_message_types_read_as_ocpp_names(operator):
    charge_point = ChargePoint.objects.create(charge_point_id="CP-A")
    frames(charge_point, 3)
    assert JournalEntry(message_type=2).get_message_type_display() == "CALL"
    assert JournalEntry(message_type=4).get_message_type_display() == "CALLERROR"
    page = operator.get(URL).content.decode()
    assert "CALLRESULT" in page and "CALLERROR" in page
    # The filter offers the names, without reading the table.
    assert "?message_type__exact=3" in page


def test_the_action_filter_offers_every_ocpp_action_and_filters(operator):
    charge_point = ChargePoint.objects.create(charge_point_id="CP-A")
    frames(charge_point, 6)
    assert {"Heartbeat", "TransactionEvent", "RemoteStartTransaction"} <= set(KNOWN_ACTIONS)
    page = operator.get(URL).content.decode()
    assert "?action=TransactionEvent" in page  # 2.0.1, though no row has it
    response = operator.get(URL + "?action=MeterValues")
    assert {e.action for e in response.context["cl"].result_list} == {"MeterValues"}
    assert response.context["cl"].result_count == 2


def test_search_finds_a_charge_point_in_any_case_or_a_message_id(operator):
    a = ChargePoint.objects.create(charge_point_id="CP-A")
    b = ChargePoint.objects.create(charge_point_id="CP-B")
    frames(a, 4)
    frames(b, 5)

    def found(term):
        response = operator.get(URL, {"q": term})
        return {
            (e.charge_point.charge_point_id, e.unique_id)
            for e in response.context["cl"].result_list
        }

    assert {cp for cp, _ in found("cp-b")} == {"CP-B"} and len(found("cp-b")) == 5
    assert found("CP-A-2") == {("CP-A", "CP-A-2")}
    assert found("cp-a-2") == set()  # message ids are compared exactly
    assert found("CP-A CP-A-3") == {("CP-A", "CP-A-3")}  # every word must match
    assert found('"CP-B-1"') == {("CP-B", "CP-B-1")}
    assert found("nothing") == set()


def test_a_charge_point_id_that_is_also_a_message_id_finds_both(operator):
    a = ChargePoint.objects.create(charge_point_id="CP-A")
    b = ChargePoint.objects.create(charge_point_id="CP-B")
    frames(a, 2)
    frames(b, 1, unique_id="CP-A")
    response = operator.get(URL, {"q": "CP-A"})
    assert len(response.context["cl"].result_list) == 3


def test_only_the_time_is_sortable(operator):
    charge_point = ChargePoint.objects.create(charge_point_id="CP-A")
    frames(charge_point, 3)
    page = operator.get(URL).content.decode()
    assert page.count('class="sortable') == 1
    oldest_first = operator.get(URL + "?o=1").context["cl"].result_list
    assert [e.timestamp for e in oldest_first] == sorted(e.timestamp for e in oldest_first)


def test_the_date_navigation_offers_every_day_between_the_first_and_last_entry(operator):
    charge_point = ChargePoint.objects.create(charge_point_id="CP-A")
    # 30 Oct 22:00 UTC to 2 Nov: two months, and the console's time zone decides the day.
    frames(charge_point, 4, step=timedelta(days=1))
    page = operator.get(URL).content.decode()
    assert "timestamp__year=2026" in page and "timestamp__month" in page  # one year: its months
    months = operator.get(URL, {"timestamp__year": 2026}).content.decode()
    assert "timestamp__month=10" in months and "timestamp__month=11" in months
    days = operator.get(URL, {"timestamp__year": 2026, "timestamp__month": 11}).content.decode()
    assert "timestamp__day=1&" in days or 'timestamp__day=1"' in days
    assert "timestamp__day=2" in days and "timestamp__day=3" not in days

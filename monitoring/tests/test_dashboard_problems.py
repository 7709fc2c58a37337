"""The dashboard's "needs attention" panel: counts, the lists behind them, quick actions."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import BillingFailure
from monitoring import problems as problem_kinds
from monitoring.models import Node, NodeKind
from monitoring.problems import dashboard_problems, problems_total
from monitoring.selectors import dashboard_snapshot
from stations.choices import RegistrationStatus, SessionStatus
from stations.models import ChargePoint, Connector, Transaction

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/dashboard/"
QUICK = "/admin/ocpp_consumer/command/quick/"


def charge_point(charge_point_id, *, online=True, statuses=("Available",), **fields):
    cp = ChargePoint.objects.create(charge_point_id=charge_point_id, is_online=online, **fields)
    for number, status in enumerate(statuses):
        Connector.objects.create(
            charge_point=cp,
            connector_id=number,
            status=status,
            error_code="GroundFailure" if status == "Faulted" else "NoError",
            info="RCD tripped" if status == "Faulted" else "",
            status_timestamp=timezone.now() - timedelta(minutes=number),
        )
    return cp


def running(cp, connector_id=1, **fields):
    return Transaction.objects.create(
        charge_point=cp,
        connector=cp.connectors.get(connector_id=connector_id),
        id_tag="TAG",
        meter_start=0,
        start_timestamp=timezone.now() - timedelta(hours=1),
        **fields,
    )


@pytest.fixture(autouse=True)
def worker_alive():
    """A live Celery worker: without one the "no worker" alarm would be among the problems."""
    now = timezone.now()
    return Node.objects.create(
        node_id="celery-test",
        kind=NodeKind.CELERY,
        hostname="h",
        pid=1,
        started_at=now,
        last_seen=now,
    )


@pytest.fixture
def troubles():
    """One of each problem (and a healthy charge point that is none)."""
    now = timezone.now()
    faulted = charge_point("CP-FAULT", statuses=("Available", "Faulted", "Available"))
    whole = charge_point("CP-WHOLE", statuses=("Faulted", "Available"))  # the charge point itself
    unavailable = charge_point("CP-UNAV", statuses=("Available", "Unavailable"))
    offline = charge_point("CP-LOST", online=False, statuses=("Available", "Charging"))
    lost_session = running(offline)
    charge_point("CP-OK", statuses=("Available", "Charging"))
    running(ChargePoint.objects.get(charge_point_id="CP-OK"))
    pending = charge_point(
        "CP-NEW", statuses=(), registration_status=RegistrationStatus.PENDING, vendor="Acme"
    )
    ended = Transaction.objects.create(
        charge_point=faulted,
        connector=faulted.connectors.get(connector_id=2),
        id_tag="TAG",
        status=SessionStatus.ENDED,
        meter_start=0,
        start_timestamp=now - timedelta(hours=3),
        stop_timestamp=now - timedelta(hours=2),
        energy_wh=100,
        disputed_at=now,
    )
    failure = BillingFailure.objects.create(
        transaction=ended, error="No tariff applies.", first_failed_at=now, last_failed_at=now
    )
    return {
        "faulted": faulted,
        "whole": whole,
        "unavailable": unavailable,
        "offline": offline,
        "lost_session": lost_session,
        "pending": pending,
        "disputed": ended,
        "failure": failure,
    }


def by_kind(problems):
    return {problem["kind"]: problem for problem in problems}


def test_each_problem_is_counted_with_its_rows(troubles):
    problems = dashboard_problems()

    assert [p["kind"] for p in problems] == list(problem_kinds.PROBLEM_KINDS)
    found = by_kind(problems)
    assert {kind: p["count"] for kind, p in found.items()} == {
        "faulted": 2,
        "offline_sessions": 1,
        "unavailable": 1,
        "billing_failures": 1,
        "disputed": 1,
        "pending": 1,
    }
    faulted_rows = {(r["charge_point"], r["connector_id"]): r for r in found["faulted"]["rows"]}
    assert set(faulted_rows) == {("CP-FAULT", 1), ("CP-WHOLE", 0)}
    assert faulted_rows["CP-FAULT", 1]["actions"] == [
        "unlock",
        "reset_soft",
        "reset_hard",
        "make_available",
    ]
    # The charge point itself has no cable to unlock.
    assert faulted_rows["CP-WHOLE", 0]["actions"] == ["reset_soft", "reset_hard", "make_available"]
    assert faulted_rows["CP-FAULT", 1]["error_code"] == "GroundFailure"
    (unavailable,) = found["unavailable"]["rows"]
    assert (unavailable["charge_point"], unavailable["actions"]) == ("CP-UNAV", ["make_available"])
    (lost,) = found["offline_sessions"]["rows"]
    assert (lost["transaction"], lost["charge_point"]) == (troubles["lost_session"].pk, "CP-LOST")
    assert found["pending"]["rows"][0]["charge_point"] == "CP-NEW"
    assert problems_total(problems, alarms=[{"code": "x"}]) == 7 + 1


def test_an_offline_charge_point_offers_no_command(troubles):
    ChargePoint.objects.filter(pk=troubles["faulted"].pk).update(is_online=False)
    rows = by_kind(dashboard_problems())["faulted"]["rows"]
    assert [r["actions"] for r in rows if r["charge_point"] == "CP-FAULT"] == [[]]


def test_rows_are_capped_and_the_rest_is_behind_the_link():
    for number in range(problem_kinds.PROBLEM_ROWS + 3):
        charge_point(f"CP-F{number:02d}", statuses=("Faulted",))
    faulted = by_kind(dashboard_problems())["faulted"]
    assert faulted["count"] == problem_kinds.PROBLEM_ROWS + 3
    assert len(faulted["rows"]) == problem_kinds.PROBLEM_ROWS


def test_every_count_links_to_a_list_of_exactly_what_was_counted(admin_client, troubles):
    def listed(url):
        response = admin_client.get(url)
        assert response.status_code == 200, url  # an unknown filter redirects with ?e=1
        return response.context["cl"]

    found = by_kind(dashboard_problems())
    for kind, problem in found.items():
        changelist = listed(problem["url"])
        assert changelist.result_count == problem["count"], kind
    faulted = {
        (c.charge_point.charge_point_id, c.connector_id)
        for c in listed(found["faulted"]["url"]).result_list
    }
    assert faulted == {("CP-FAULT", 1), ("CP-WHOLE", 0)}
    assert [t.pk for t in listed(found["offline_sessions"]["url"]).result_list] == [
        troubles["lost_session"].pk
    ]
    assert [cp.pk for cp in listed(found["pending"]["url"]).result_list] == [troubles["pending"].pk]
    assert [f.pk for f in listed(found["billing_failures"]["url"]).result_list] == [
        troubles["failure"].pk
    ]


def test_the_faulted_charge_points_link_uses_the_charge_point_lists_filter(admin_client, troubles):
    faulted = by_kind(dashboard_problems())["faulted"]
    if not problem_kinds.chargepoint_list_filters_connector_status():
        assert faulted["charge_points_url"] == ""
        pytest.skip("the charge point list has no connector status filter")
    response = admin_client.get(faulted["charge_points_url"])
    assert response.status_code == 200
    assert {cp.charge_point_id for cp in response.context["cl"].result_list} >= {"CP-FAULT"}


def test_the_panel_comes_first_with_a_button_for_each_quick_action(admin_client, troubles):
    html = admin_client.get(DASHBOARD).text

    # Problems first, then the money, the sessions, and the fleet last.
    positions = [
        html.index(marker)
        for marker in ('id="problems"', 'id="money"', 'id="sessions"', 'id="grid"')
    ]
    assert positions == sorted(positions)
    for kind in problem_kinds.PROBLEM_KINDS:
        assert f'data-problem="{kind}"' in html
    assert 'id="problems-total">7<' in html
    assert 'data-charge-point="CP-FAULT" data-connector="1" data-status="Faulted"' in html
    assert f'action="{QUICK}"' in html
    for quick in ("unlock", "reset_soft", "reset_hard", "make_available", "stop"):
        assert f'data-quick="{quick}"' in html
    assert 'name="charge_point" value="CP-FAULT"' in html
    assert 'name="next" value="/admin/dashboard/"' in html
    assert "RCD tripped" in html


def test_no_button_without_the_right_to_command(staff_client, troubles):
    """A staff user without stations.change_chargepoint sees the problems, not the buttons."""
    html = staff_client.get(DASHBOARD).text
    assert 'data-problem="faulted"' in html
    assert 'class="quick-action"' not in html
    assert 'data-quick-url=""' in html  # nor does the script get a target


def test_no_button_while_the_quick_command_view_is_missing(admin_client, troubles):
    with mock.patch("monitoring.views.quick_command_url", return_value=""):
        response = admin_client.get(DASHBOARD)
    assert response.status_code == 200
    assert 'class="quick-action"' not in response.text
    assert 'data-problem="faulted"' in response.text


def test_nothing_to_do_says_so(admin_client):
    charge_point("CP-FINE")
    html = admin_client.get(DASHBOARD).text
    assert 'id="problems-total">0<' in html
    assert 'id="problems-clear" hidden' not in html


def test_a_dead_worker_is_a_problem_too(admin_client, worker_alive):
    Node.objects.filter(pk=worker_alive.pk).update(last_seen=timezone.now() - timedelta(hours=1))
    html = admin_client.get(DASHBOARD).text
    assert 'id="problems-total">1<' in html
    assert 'data-alarm="no_worker"' in html


def test_the_dashboard_costs_the_same_queries_for_a_big_network(admin_client):
    def network(prefix, count):
        for number in range(count):
            cp = charge_point(
                f"{prefix}-{number:03d}",
                online=number % 3 != 0,
                statuses=("Available", "Faulted" if number % 4 == 0 else "Charging", "Unavailable"),
            )
            if number % 4:
                running(cp)

    network("A", 12)  # every kind of problem, with rows
    with CaptureQueriesContext(connection) as small:
        assert admin_client.get(DASHBOARD).status_code == 200
    network("B", 60)
    with CaptureQueriesContext(connection) as big:
        assert admin_client.get(DASHBOARD).status_code == 200
    assert len(big) == len(small), [q["sql"][:120] for q in big.captured_queries]


def test_the_snapshot_costs_the_same_queries_for_a_big_network():
    def network(prefix, count):
        for number in range(count):
            cp = charge_point(f"{prefix}-{number:03d}", statuses=("Faulted", "Charging"))
            running(cp)

    network("A", 2)
    with CaptureQueriesContext(connection) as small:
        dashboard_snapshot()
    network("B", 40)
    with CaptureQueriesContext(connection) as big:
        snapshot = dashboard_snapshot()
    assert len(big) == len(small)
    assert len(snapshot["charge_points"]) == 42

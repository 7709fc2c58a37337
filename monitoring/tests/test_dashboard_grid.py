"""The dashboard's grid: attention order, search, filters and pages, done by the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from csms_project.asgi import application
from monitoring import live
from monitoring.grid import (
    PAGE_SIZE,
    RANK_CHARGING,
    RANK_OFFLINE,
    RANK_ONLINE,
    RANK_PROBLEM,
    GridQuery,
    GridView,
    card_key,
    grid_page,
    grid_queryset,
)
from monitoring.selectors import chargepoint_cards, dashboard_grid
from stations import services
from stations.models import ChargePoint, Connector, Station, Transaction

from .test_consumers import ORIGIN, TIMEOUT, in_worker_thread, session_cookie

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/dashboard/"


def charge_point(charge_point_id, *, online=True, statuses=("Available",), station=None, error=""):
    cp = ChargePoint.objects.create(
        charge_point_id=charge_point_id, is_online=online, station=station
    )
    Connector.objects.bulk_create(
        Connector(
            charge_point=cp,
            connector_id=number,
            status=status,
            error_code=error or "NoError",
        )
        for number, status in enumerate(statuses, start=1)
    )
    return cp


def running(cp):
    return Transaction.objects.create(
        charge_point=cp,
        connector=cp.connectors.get(connector_id=1),
        id_tag="TAG",
        meter_start=0,
        start_timestamp=timezone.now() - timedelta(minutes=5),
    )


@pytest.fixture
def fleet():
    north = Station.objects.create(name="Depot North")
    south = Station.objects.create(name="Harbour South")
    charge_point("cp-1", statuses=("Available",), station=north)  # online
    charge_point("CP-2", statuses=("Charging",), station=north)  # charging
    charge_point("CP-10", statuses=("Charging", "Available"), station=south)  # charging
    charge_point("CP-3", online=False, statuses=("Available",), station=south)  # offline
    charge_point("CP-4", statuses=("Faulted",), station=south)  # problem
    charge_point("CP-5", statuses=("Available",), error="WeakSignal")  # problem: an error code
    lost = charge_point("CP-6", online=False, statuses=("Charging",))  # problem: offline, running
    running(lost)
    charge_point("CP-7", online=False, statuses=("Charging",))  # stale status, no session: offline
    return north, south


def ids(query=None):
    return [cp.charge_point_id for cp in grid_queryset(query or GridQuery())]


def test_the_grid_puts_what_needs_attention_first(fleet):
    assert ids() == [
        "CP-4",
        "CP-5",
        "CP-6",  # problems
        "CP-10",
        "CP-2",  # charging
        "cp-1",  # online (ids by code point: upper case first)
        "CP-3",
        "CP-7",  # offline
    ]


def test_a_cards_rank_is_the_databases(fleet):
    cards = chargepoint_cards(charge_point_pks=ChargePoint.objects.values_list("pk", flat=True))
    ranks = {card["id"]: card["rank"] for card in cards}
    assert ranks == {cp.charge_point_id: cp.attention for cp in grid_queryset(GridQuery())}
    assert ranks["CP-6"] == RANK_PROBLEM and ranks["CP-2"] == RANK_CHARGING
    assert ranks["cp-1"] == RANK_ONLINE and ranks["CP-7"] == RANK_OFFLINE
    # Python sorts the cards as the database does.
    assert [card["id"] for card in sorted(cards, key=card_key)] == ids()


def test_search_and_filters(fleet):
    north, south = fleet
    assert ids(GridQuery(q="cp-1")) == ["CP-10", "cp-1"]  # ids contain it, any case
    assert ids(GridQuery(q="harbour")) == ["CP-4", "CP-10", "CP-3"]  # by station name
    assert ids(GridQuery(status="problem")) == ["CP-4", "CP-5", "CP-6"]
    assert ids(GridQuery(status="Charging")) == ["CP-6", "CP-10", "CP-2", "CP-7"]
    assert ids(GridQuery(online="no")) == ["CP-6", "CP-3", "CP-7"]
    assert ids(GridQuery(station_id=north.pk, online="yes")) == ["CP-2", "cp-1"]


def test_grid_query_matches_cards_as_the_database_filters(fleet):
    north, _ = fleet
    cards = chargepoint_cards(charge_point_pks=ChargePoint.objects.values_list("pk", flat=True))
    for query in (
        GridQuery(q="cp-1"),
        GridQuery(q="HARBOUR"),
        GridQuery(status="problem"),
        GridQuery(status="Charging"),
        GridQuery(online="no"),
        GridQuery(station_id=north.pk, online="yes"),
    ):
        assert [c["id"] for c in sorted(cards, key=card_key) if query.matches(c)] == ids(query)


def test_bad_parameters_are_left_out_not_guessed(fleet):
    north, _ = fleet
    query = GridQuery.from_params(
        {"q": "CP", "status": "Exploded", "online": "maybe", "station": "999999", "page": "x"}
    )
    assert query == GridQuery(q="CP")
    assert GridQuery.from_params({"station": str(north.pk), "page": "2"}) == GridQuery(
        station_id=north.pk, page=2
    )


def test_pages_of_a_large_network():
    ChargePoint.objects.bulk_create(
        ChargePoint(charge_point_id=f"CP-{number:04d}") for number in range(PAGE_SIZE + 30)
    )
    first = grid_page(GridQuery())
    second = grid_page(GridQuery(page=2))
    beyond = grid_page(GridQuery(page=99))
    assert (first.count, first.num_pages, len(first.charge_points)) == (
        PAGE_SIZE + 30,
        2,
        PAGE_SIZE,
    )
    assert first.charge_points[0].charge_point_id == "CP-0000"
    assert [cp.charge_point_id for cp in second.charge_points][:1] == [f"CP-{PAGE_SIZE:04d}"]
    assert len(second.charge_points) == 30
    assert beyond.number == 2  # past the end: the last page


def test_a_page_costs_the_same_queries_whatever_its_size(django_assert_num_queries):
    ChargePoint.objects.bulk_create(
        ChargePoint(charge_point_id=f"CP-{number:04d}") for number in range(3)
    )
    with CaptureQueriesContext(connection) as small:
        dashboard_grid(query=GridQuery())
    cps = ChargePoint.objects.bulk_create(
        ChargePoint(charge_point_id=f"CP-B{number:04d}") for number in range(150)
    )
    Connector.objects.bulk_create(Connector(charge_point=cp, connector_id=1) for cp in cps)
    with django_assert_num_queries(len(small)):
        page = dashboard_grid(query=GridQuery(page=2))
    assert page["grid"] == {"page": 2, "pages": 2, "count": 153, "per_page": PAGE_SIZE}


def test_the_page_has_a_search_form_and_page_links(admin_client):
    ChargePoint.objects.bulk_create(
        ChargePoint(charge_point_id=f"CP-{number:04d}") for number in range(PAGE_SIZE + 1)
    )
    html = admin_client.get(DASHBOARD).text
    assert 'id="grid-search"' in html and 'name="q"' in html and 'name="status"' in html
    assert 'data-page-link="next" rel="next"' in html and 'href="?page=2"' in html
    assert html.count("data-cp=") == PAGE_SIZE
    second = admin_client.get(DASHBOARD, {"page": 2, "q": "CP-0"}).text
    assert second.count("data-cp=") == 1
    assert 'href="?q=CP-0"' in second  # back to page 1 of the same search
    response = admin_client.get(DASHBOARD, {"status": "Exploded"})
    assert response.status_code == 200
    assert 'id="grid-errors"' in response.text  # said, not silently ignored


def test_a_search_that_finds_nothing_says_so(admin_client, fleet):
    html = admin_client.get(DASHBOARD, {"q": "nowhere"}).text
    assert "No charge point matches this search." in html


# --- which pushed cards a dashboard is sent -----------------------------------------------


def card(pk, charge_point_id, *, rank=RANK_ONLINE, online=True, station="", station_id=None):
    return {
        "pk": pk,
        "id": charge_point_id,
        "rank": rank,
        "online": online,
        "station": station,
        "station_id": station_id,
        "connectors": [],
    }


def view_of(cards, *, page=1, pages=1, per_page=3, query=None):
    view = GridView(query=query or GridQuery())
    view.show(cards, {"page": page, "pages": pages, "per_page": per_page, "count": 0})
    return view


def test_a_shown_card_is_forwarded_and_a_foreign_one_is_not():
    view = view_of([card(1, "A"), card(2, "B"), card(3, "C")], pages=2)
    assert view.accept([card(2, "B", online=False, rank=RANK_ONLINE)]) == (
        [card(2, "B", online=False)],
        False,
    )
    assert view.accept([card(9, "Z")]) == ([], False)  # sorts after a full first page


def test_page_one_takes_a_card_that_sorts_into_it():
    view = view_of([card(1, "A"), card(2, "B"), card(3, "C")], pages=2)
    urgent = card(9, "Z", rank=RANK_PROBLEM)
    assert view.accept([urgent]) == ([urgent], False)
    assert set(view.keys) == {9, 1, 2}  # C dropped off the full page, as in the browser


def test_room_on_the_last_page_takes_a_new_card():
    view = view_of([card(1, "A")], per_page=3)
    new = card(5, "NEW")
    assert view.accept([new]) == ([new], False)


def test_changes_across_a_later_pages_edges_read_the_page_again():
    view = view_of([card(4, "D"), card(5, "E"), card(6, "F")], page=2, pages=3)
    assert view.accept([card(9, "A", rank=RANK_PROBLEM)]) == ([], True)  # before the page
    view = view_of([card(4, "D"), card(5, "E"), card(6, "F")], page=2, pages=3)
    moved = card(5, "E", rank=RANK_OFFLINE)  # now sorts after the page
    assert view.accept([moved]) == ([moved], True)


def test_a_card_leaving_the_search_reads_the_page_again():
    view = view_of([card(1, "A"), card(2, "B")], query=GridQuery(online="yes"))
    gone = card(1, "A", online=False, rank=RANK_OFFLINE)
    assert view.accept([gone]) == ([gone], True)
    assert view.accept([card(7, "X", online=False, rank=RANK_OFFLINE)]) == ([], False)


def test_a_large_batch_asks_dashboards_to_resync(monkeypatch):
    pks = list(range(1, live.PUSH_CARDS_MAX + 2))
    message = live._charge_points_message(pks)
    assert message == {"type": "dashboard.resync", "changed": len(pks)}


# --- the socket serves the page it was opened for --------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_the_socket_sends_the_searched_page_and_only_its_cards(
    channel_layer, django_user_model
):
    staff = await django_user_model.objects.acreate(username="op-grid", is_staff=True)
    north = await Station.objects.acreate(name="Depot North")
    shown = await sync_to_async(services.chargepoint_create)(
        charge_point_id="CP-NORTH", station_id=north.pk
    )
    other = await sync_to_async(services.chargepoint_create)(charge_point_id="CP-ELSEWHERE")
    headers = [ORIGIN, (b"cookie", await sync_to_async(session_cookie)(staff))]
    dashboard = WebsocketCommunicator(application, "/ws/dashboard/?q=north", headers=headers)
    connected, _ = await dashboard.connect(timeout=TIMEOUT)
    assert connected
    snapshot = await dashboard.receive_json_from(timeout=TIMEOUT)
    assert [c["id"] for c in snapshot["charge_points"]] == ["CP-NORTH"]
    assert snapshot["grid"]["count"] == 1

    await in_worker_thread(services.connector_status_update)(
        charge_point_pk=other.pk, connector_id=1, status="Faulted", error_code="GroundFailure"
    )
    await in_worker_thread(services.connector_status_update)(
        charge_point_pk=shown.pk, connector_id=1, status="Charging", error_code="NoError"
    )
    received = {}
    while "charge_points" not in received or "summary" not in received:
        message = await dashboard.receive_json_from(timeout=TIMEOUT)
        if message["type"] == "charge_points":
            # Only the card this page shows: CP-ELSEWHERE's change is not sent.
            assert [c["id"] for c in message["charge_points"]] == ["CP-NORTH"]
        received[message["type"]] = message
    faulted = {p["kind"]: p for p in received["summary"]["problems"]}["faulted"]
    assert faulted["count"] == 1  # the problems count the whole network
    await dashboard.disconnect()

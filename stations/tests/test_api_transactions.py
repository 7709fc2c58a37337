"""The transactions collection: scoping, live energy, meter values and the chart series."""

import pytest

from api_support.testing import (
    T0,
    add_reading,
    client_for,
    make_charge_point,
    make_driver,
    make_invoice,
    make_operator,
    make_session,
)
from drivers.models import IdTag

pytestmark = pytest.mark.django_db

TRANSACTIONS = "/api/v1/transactions/"
VIEW = ("stations.view_transaction", "stations.view_metervalue")


@pytest.fixture
def charge_point():
    return make_charge_point("CP1", connectors={1: "Charging", 2: "Available"})


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def test_anonymous_gets_401():
    assert client_for().get(TRANSACTIONS).status_code == 401


def test_staff_without_permission_gets_403(charge_point):
    session = make_session(charge_point, "TAG")
    client = client_for(make_operator())
    assert client.get(TRANSACTIONS).status_code == 403
    assert client.get(f"{TRANSACTIONS}{session.pk}/").status_code == 403


def test_operator_sees_every_transaction_with_contract_fields(charge_point):
    stopped = make_session(charge_point, "TAG-1", energy_wh=7500)
    make_session(charge_point, "TAG-2", connector_id=2)
    body = client_for(make_operator(*VIEW)).get(f"{TRANSACTIONS}{stopped.pk}/").json()
    stopped.refresh_from_db()  # updated_at as the database stamped it
    assert body == {
        "id": stopped.pk,
        "ocpp_transaction_id": "",
        "charge_point": "CP1",
        "connector_id": 1,
        "id_tag": "TAG-1",
        "meter_start": 10_000,
        "meter_stop": 17_500,
        "energy_wh": 7500,
        "start_timestamp": "2026-11-26T10:00:00Z",
        "stop_timestamp": "2026-11-26T11:00:00Z",
        "stop_reason": "Local",
        "is_open": False,
        "status": "ended",
        "is_disputed": False,
        "meter_segments": [],
        "tariff_snapshot": None,
        "invoice": None,
        "disputed_at": None,
        "dispute_reason": "",
        "dispute_resolution": "",
        "dispute_resolved_at": None,
        "dispute_note": "",
        "energy_wh_reported": None,
        "updated_at": stopped.updated_at.isoformat().replace("+00:00", "Z"),
    }
    assert len(ids(client_for(make_operator(*VIEW)).get(TRANSACTIONS))) == 2


def test_driver_sees_own_transactions_by_tag_record_or_value_in_any_case(charge_point):
    alice = make_driver("alice", "ALICE-1")
    make_driver("bob", "BOB-1")
    by_record = make_session(charge_point, "ALICE-1")
    by_value = make_session(charge_point, "alice-1", connector_id=2, link_tag=False)
    make_session(charge_point, "BOB-1", start=T0.replace(hour=12), energy_wh=100)
    make_session(charge_point, "UNKNOWN", start=T0.replace(hour=13), energy_wh=100)
    client = client_for(alice)
    assert sorted(ids(client.get(TRANSACTIONS))) == sorted([by_record.pk, by_value.pk])
    assert sorted(ids(client.get("/api/v1/me/transactions/"))) == sorted(
        [by_record.pk, by_value.pk]
    )


def test_driver_gets_404_for_another_drivers_transaction(charge_point):
    alice = make_driver("alice", "ALICE-1")
    make_driver("bob", "BOB-1")
    bobs = make_session(charge_point, "BOB-1")
    client = client_for(alice)
    assert client.get(f"{TRANSACTIONS}{bobs.pk}/").status_code == 404
    assert client.get(f"{TRANSACTIONS}{bobs.pk}/meter-values/").status_code == 404
    assert client.get(f"{TRANSACTIONS}{bobs.pk}/timeseries/").status_code == 404


def test_a_tag_moved_to_another_driver_takes_its_sessions_along(charge_point):
    alice = make_driver("alice", "SHARED")
    bob = make_driver("bob")
    session = make_session(charge_point, "SHARED")
    IdTag.objects.filter(id_tag="SHARED").update(driver=bob.driver)
    assert ids(client_for(alice).get(TRANSACTIONS)) == []
    assert ids(client_for(bob).get(TRANSACTIONS)) == [session.pk]


def test_transactions_are_read_only(charge_point):
    session = make_session(charge_point, "TAG")
    client = client_for(make_operator(*VIEW, "stations.change_transaction"))
    assert client.patch(f"{TRANSACTIONS}{session.pk}/", {"meter_stop": 1}).status_code == 405
    assert client.post(TRANSACTIONS, {}, format="json").status_code == 405
    driver = client_for(make_driver("alice"))
    assert driver.post(TRANSACTIONS, {}, format="json").status_code == 405


def test_open_transaction_shows_energy_so_far_from_the_latest_register(charge_point):
    session = make_session(charge_point, "TAG", meter_start=10_000)
    client = client_for(make_operator(*VIEW))
    assert client.get(f"{TRANSACTIONS}{session.pk}/").json()["energy_wh"] is None
    add_reading(session, "12.5", minutes=15, unit="kWh")
    add_reading(session, "7400", minutes=20, measurand="Power.Active.Import", unit="W")
    add_reading(session, "15.25", minutes=30, unit="kWh")
    add_reading(session, "5100", minutes=30, unit="Wh", phase="L1")  # not the total
    body = client.get(f"{TRANSACTIONS}{session.pk}/").json()
    assert body["is_open"] is True
    assert body["energy_wh"] == 5250
    assert client.get(TRANSACTIONS).json()["results"][0]["energy_wh"] == 5250


def test_transaction_filters(charge_point):
    other = make_charge_point("CP2")
    open_one = make_session(charge_point, "TAG-1", start=T0)
    stopped = make_session(other, "TAG-2", start=T0.replace(day=20), energy_wh=100)
    client = client_for(make_operator(*VIEW))
    assert ids(client.get(TRANSACTIONS, {"charge_point": "CP2"})) == [stopped.pk]
    assert ids(client.get(TRANSACTIONS, {"is_open": "true"})) == [open_one.pk]
    assert ids(client.get(TRANSACTIONS, {"id_tag": "tag-1"})) == [open_one.pk]
    assert ids(client.get(TRANSACTIONS, {"started_after": "2026-11-25T00:00:00Z"})) == [open_one.pk]
    assert ids(client.get(TRANSACTIONS, {"started_before": "2026-11-25T00:00:00Z"})) == [stopped.pk]
    assert ids(client.get(TRANSACTIONS, {"ordering": "start_timestamp"})) == [
        stopped.pk,
        open_one.pk,
    ]
    bad = client.get(TRANSACTIONS, {"started_after": "yesterday"})
    assert bad.status_code == 400
    assert "started_after" in bad.json()


def test_meter_values_of_a_transaction(charge_point):
    session = make_session(charge_point, "TAG")
    add_reading(session, "12.5", minutes=15, unit="kWh")
    add_reading(session, "7400", minutes=15, measurand="Power.Active.Import", unit="W")
    client = client_for(make_operator(*VIEW))
    body = client.get(f"{TRANSACTIONS}{session.pk}/meter-values/").json()
    assert body["count"] == 2
    assert body["results"][0] == {
        "timestamp": "2026-11-26T10:15:00Z",
        "connector_id": 1,
        "measurand": "Energy.Active.Import.Register",
        "value": "12.5",
        "numeric_value": "12.500000",
        "unit": "kWh",
        "phase": "",
        "context": "Sample.Periodic",
        "location": "Outlet",
        "format": "Raw",
    }
    power = client.get(
        f"{TRANSACTIONS}{session.pk}/meter-values/", {"measurand": "Power.Active.Import"}
    ).json()
    assert [row["value"] for row in power["results"]] == ["7400"]


def test_meter_values_need_their_own_view_permission(charge_point):
    session = make_session(charge_point, "TAG")
    client = client_for(make_operator("stations.view_transaction"))
    assert client.get(f"{TRANSACTIONS}{session.pk}/meter-values/").status_code == 403


def test_timeseries_gives_energy_delivered_in_wh_oldest_first(charge_point):
    session = make_session(charge_point, "TAG", meter_start=10_000)
    add_reading(session, "15.0", minutes=30, unit="kWh")
    add_reading(session, "12500", minutes=15, unit="Wh")
    add_reading(session, "7400", minutes=15, measurand="Power.Active.Import", unit="W")
    client = client_for(make_operator(*VIEW))
    body = client.get(f"{TRANSACTIONS}{session.pk}/timeseries/").json()
    assert body == {
        "transaction": session.pk,
        "measurand": "Energy.Active.Import.Register",
        "phase": "",
        "unit": "Wh",
        "points": [
            {"timestamp": "2026-11-26T10:15:00Z", "value": 2500.0},
            {"timestamp": "2026-11-26T10:30:00Z", "value": 5000.0},
        ],
        "interval_seconds": None,
    }
    power = client.get(
        f"{TRANSACTIONS}{session.pk}/timeseries/", {"measurand": "Power.Active.Import"}
    ).json()
    assert power["unit"] == "W"
    assert power["points"] == [{"timestamp": "2026-11-26T10:15:00Z", "value": 7400.0}]


def test_driver_reads_meter_values_and_series_of_own_transaction(charge_point):
    alice = make_driver("alice", "ALICE-1")
    session = make_session(charge_point, "ALICE-1")
    add_reading(session, "11000", minutes=5)
    client = client_for(alice)
    assert client.get(f"{TRANSACTIONS}{session.pk}/meter-values/").json()["count"] == 1
    assert client.get(f"{TRANSACTIONS}{session.pk}/timeseries/").json()["points"] == [
        {"timestamp": "2026-11-26T10:05:00Z", "value": 1000.0}
    ]


def test_transaction_list_query_count_does_not_grow_with_rows(
    charge_point, django_assert_max_num_queries
):
    for hour in range(10):
        session = make_session(
            charge_point, "TAG", connector_id=10 + hour, start=T0.replace(hour=hour)
        )
        add_reading(session, str(10_000 + hour), minutes=5)
        if hour % 2:
            make_invoice(
                make_session(charge_point, "TAG", energy_wh=hour, start=session.start_timestamp)
            )
    client = client_for(make_operator(*VIEW))
    with django_assert_max_num_queries(5):
        response = client.get(TRANSACTIONS, {"page_size": 100})
    assert response.json()["count"] == 15
    rows = response.json()["results"]
    assert {row["energy_wh"] for row in rows if row["is_open"]} == set(range(10))
    assert sum(row["invoice"] is not None for row in rows) == 5


def test_driver_transaction_list_query_count(charge_point, django_assert_max_num_queries):
    alice = make_driver("alice", "ALICE-1")
    for hour in range(10):
        make_session(
            charge_point, "alice-1", start=T0.replace(hour=hour), link_tag=False, energy_wh=hour
        )
    client = client_for(alice)
    # The driver's tags, then the page's keys and rows (stations.selectors.transaction_owned_q).
    with django_assert_max_num_queries(4):
        response = client.get("/api/v1/me/transactions/")
    assert response.json()["count"] == 10


def test_meter_value_list_query_count(charge_point, django_assert_max_num_queries):
    session = make_session(charge_point, "TAG")
    for minute in range(20):
        add_reading(session, str(10_000 + minute), minutes=minute)
    client = client_for(make_operator(*VIEW))
    with django_assert_max_num_queries(6):
        response = client.get(f"{TRANSACTIONS}{session.pk}/meter-values/")
    assert response.json()["count"] == 20

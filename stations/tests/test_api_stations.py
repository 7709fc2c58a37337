"""The stations and charge-points collections, for operators, drivers and anonymous users."""

from decimal import Decimal

import pytest

from api_support.testing import client_for, make_charge_point, make_driver, make_operator
from billing.models import Tariff
from stations.models import ChargePoint, Station

pytestmark = pytest.mark.django_db

STATIONS = "/api/v1/stations/"
CHARGE_POINTS = "/api/v1/charge-points/"


@pytest.fixture
def utrecht():
    return Station.objects.create(
        name="Utrecht Centraal",
        city="Utrecht",
        country="NL",
        latitude=Decimal("52.089444"),
        longitude=Decimal("5.110278"),
    )


@pytest.fixture
def amsterdam():
    return Station.objects.create(
        name="Amsterdam Centraal",
        city="Amsterdam",
        country="NL",
        latitude=Decimal("52.378333"),
        longitude=Decimal("4.900000"),
    )


# --- stations ------------------------------------------------------------------


def test_anonymous_gets_401_everywhere_when_the_map_is_private(settings):
    settings.API_ANONYMOUS_MAP = False
    client = client_for()
    assert client.get(STATIONS).status_code == 401
    assert client.get(CHARGE_POINTS).status_code == 401
    response = client.post(STATIONS, {"name": "X"}, format="json")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_anonymous_reads_the_map_but_never_writes_nor_sees_charge_points():
    client = client_for()
    assert client.get(STATIONS).status_code == 200
    assert client.get(CHARGE_POINTS).status_code == 401
    assert client.post(STATIONS, {"name": "X"}, format="json").status_code == 401


def test_operator_lists_stations_with_charge_points_and_connectors(utrecht):
    make_charge_point("CP1", station=utrecht, is_online=True, connectors={1: "Charging"})
    client = client_for(make_operator("stations.view_station"))
    body = client.get(STATIONS).json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 1
    station = body["results"][0]
    assert station["name"] == "Utrecht Centraal"
    assert station["latitude"] == "52.089444"
    assert station["charge_points"] == [
        {
            "charge_point_id": "CP1",
            "is_online": True,
            "connectors": [{"connector_id": 1, "status": "Charging", "error_code": "NoError"}],
        }
    ]


def test_staff_without_view_permission_gets_403(utrecht):
    client = client_for(make_operator())
    assert client.get(STATIONS).status_code == 403
    assert client.get(f"{STATIONS}{utrecht.pk}/").status_code == 403


def test_operator_creates_updates_and_deletes_with_permissions(utrecht):
    client = client_for(
        make_operator(
            "stations.view_station",
            "stations.add_station",
            "stations.change_station",
            "stations.delete_station",
        )
    )
    created = client.post(
        STATIONS,
        {"name": "Depot", "country": "nl", "time_zone": "Europe/Amsterdam"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["country"] == "NL"
    station_id = created.json()["id"]
    updated = client.patch(f"{STATIONS}{station_id}/", {"city": "Utrecht"}, format="json")
    assert updated.status_code == 200
    assert Station.objects.get(pk=station_id).city == "Utrecht"
    assert client.delete(f"{STATIONS}{station_id}/").status_code == 204
    assert not Station.objects.filter(pk=station_id).exists()


def test_operator_with_view_only_cannot_write(utrecht):
    client = client_for(make_operator("stations.view_station"))
    assert client.post(STATIONS, {"name": "Depot"}, format="json").status_code == 403
    assert client.patch(f"{STATIONS}{utrecht.pk}/", {"name": "X"}, format="json").status_code == 403
    assert client.delete(f"{STATIONS}{utrecht.pk}/").status_code == 403
    utrecht.refresh_from_db()
    assert utrecht.name == "Utrecht Centraal"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": ""}, "name"),
        ({"name": "X", "latitude": "91"}, "latitude"),
        ({"name": "X", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"name": "X", "country": "NLD"}, "country"),
    ],
)
def test_invalid_station_body_names_the_field(body, field):
    client = client_for(make_operator("stations.add_station"))
    response = client.post(STATIONS, body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_driver_reads_stations_but_cannot_write(utrecht):
    client = client_for(make_driver("alice", "TAG-A"))
    assert client.get(STATIONS).json()["count"] == 1
    assert client.get(f"{STATIONS}{utrecht.pk}/").status_code == 200
    assert client.post(STATIONS, {"name": "Mine"}, format="json").status_code == 403
    assert client.delete(f"{STATIONS}{utrecht.pk}/").status_code == 403
    assert Station.objects.count() == 1


def test_nearby_stations_nearest_first_within_radius(utrecht, amsterdam):
    Station.objects.create(name="Nowhere")  # no coordinates: never "nearby"
    client = client_for(make_driver("alice"))
    # A point in Utrecht: Amsterdam is about 35 km away.
    near = client.get(STATIONS, {"latitude": "52.09", "longitude": "5.12", "radius_km": "5"})
    assert [s["name"] for s in near.json()["results"]] == ["Utrecht Centraal"]
    assert near.json()["results"][0]["distance_km"] < 1
    wide = client.get(STATIONS, {"latitude": "52.09", "longitude": "5.12", "radius_km": "50"})
    results = wide.json()["results"]
    assert [s["name"] for s in results] == ["Utrecht Centraal", "Amsterdam Centraal"]
    assert 30 < results[1]["distance_km"] < 45


@pytest.mark.parametrize(
    "params, field",
    [
        ({"latitude": "52.0"}, "latitude"),
        ({"latitude": "100", "longitude": "5"}, "latitude"),
        ({"latitude": "52", "longitude": "5", "radius_km": "-1"}, "radius_km"),
    ],
)
def test_nearby_search_rejects_bad_coordinates(params, field):
    response = client_for(make_driver("alice")).get(STATIONS, params)
    assert response.status_code == 400
    assert field in response.json()


def test_available_filter_keeps_stations_with_a_free_connector(utrecht, amsterdam):
    make_charge_point("CP-U", station=utrecht, is_online=True, connectors={1: "Charging"})
    make_charge_point("CP-A", station=amsterdam, is_online=True, connectors={1: "Preparing"})
    make_charge_point("CP-OFF", station=utrecht, is_online=False, connectors={1: "Available"})
    response = client_for(make_driver("alice")).get(STATIONS, {"available": "true"})
    assert [s["name"] for s in response.json()["results"]] == ["Amsterdam Centraal"]


def test_station_search_and_ordering(utrecht, amsterdam):
    client = client_for(make_operator("stations.view_station"))
    assert [s["name"] for s in client.get(STATIONS, {"search": "amster"}).json()["results"]] == [
        "Amsterdam Centraal"
    ]
    ordered = client.get(STATIONS, {"ordering": "-city"}).json()["results"]
    assert [s["city"] for s in ordered] == ["Utrecht", "Amsterdam"]


def test_deleting_a_station_still_billed_answers_409(utrecht):
    from api_support.testing import make_invoice, make_session

    charge_point = make_charge_point("CP1", station=utrecht)
    tariff = Tariff.objects.create(name="Local", station=utrecht)
    invoice = make_invoice(make_session(charge_point, "TAG", energy_wh=1000))
    invoice.tariff = tariff
    invoice.save()
    client = client_for(make_operator("stations.delete_station"))
    response = client.delete(f"{STATIONS}{utrecht.pk}/")
    assert response.status_code == 409
    assert "detail" in response.json()
    assert Station.objects.filter(pk=utrecht.pk).exists()


def test_station_list_query_count_does_not_grow_with_rows(django_assert_max_num_queries):
    for number in range(8):
        station = Station.objects.create(name=f"S{number}")
        for cp in range(2):
            make_charge_point(f"CP{number}-{cp}", station=station, connectors={1: "Available"})
    client = client_for(make_operator("stations.view_station"))
    # token, 2 permission lookups, count, page, charge points, connectors
    with django_assert_max_num_queries(7):
        response = client.get(STATIONS)
    assert response.json()["count"] == 8


# --- charge points ----------------------------------------------------------------

CP_PERMS = (
    "stations.view_chargepoint",
    "stations.add_chargepoint",
    "stations.change_chargepoint",
    "stations.delete_chargepoint",
)


def test_operator_creates_charge_point_with_hashed_password(utrecht, settings):
    # Only unknown charge points wait for acceptance: one the operator
    # registers is accepted unless the request says otherwise.
    settings.OCPP_DEFAULT_REGISTRATION_STATUS = "Pending"
    client = client_for(make_operator(*CP_PERMS))
    response = client.post(
        CHARGE_POINTS,
        {
            "charge_point_id": "CP:01 A",
            "station": utrecht.pk,
            "password": "0123456789abcdef",
            "heartbeat_interval": 120,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert "password" not in body
    assert body["has_password"] is True
    assert body["registration_status"] == "Accepted"
    assert body["heartbeat_interval"] == 120
    stored = ChargePoint.objects.get(charge_point_id="CP:01 A")
    assert stored.password != "0123456789abcdef"
    assert stored.check_password("0123456789abcdef")


@pytest.mark.parametrize("password", ["short", "x" * 41])
def test_charge_point_password_must_be_16_to_40_characters(password):
    client = client_for(make_operator(*CP_PERMS))
    response = client.post(
        CHARGE_POINTS, {"charge_point_id": "CP1", "password": password}, format="json"
    )
    assert response.status_code == 400
    assert "password" in response.json()
    assert not ChargePoint.objects.exists()


def test_charge_point_id_outside_the_ocpp_charset_is_refused():
    client = client_for(make_operator(*CP_PERMS))
    response = client.post(CHARGE_POINTS, {"charge_point_id": "CP<1>"}, format="json")
    assert response.status_code == 400
    assert "charge_point_id" in response.json()


def test_duplicate_charge_point_id_is_refused():
    make_charge_point("CP1")
    client = client_for(make_operator(*CP_PERMS))
    response = client.post(CHARGE_POINTS, {"charge_point_id": "CP1"}, format="json")
    assert response.status_code == 400
    assert "charge_point_id" in response.json()


@pytest.mark.parametrize("charge_point_id", ["CP:01", "CP 1", "CP.1", "CP#1"])
def test_lookup_accepts_ids_with_special_characters(charge_point_id):
    from urllib.parse import quote

    make_charge_point(charge_point_id)
    client = client_for(make_operator(*CP_PERMS))
    url = f"{CHARGE_POINTS}{quote(charge_point_id)}/"
    response = client.get(url)
    assert response.status_code == 200
    assert response.json()["charge_point_id"] == charge_point_id
    assert client.patch(url, {"heartbeat_interval": 60}, format="json").status_code == 200
    assert ChargePoint.objects.get(charge_point_id=charge_point_id).heartbeat_interval == 60


def test_operator_sets_and_clears_the_password():
    make_charge_point("CP1")
    client = client_for(make_operator(*CP_PERMS))
    client.patch(f"{CHARGE_POINTS}CP1/", {"password": "a-new-secret-1234"}, format="json")
    assert ChargePoint.objects.get().check_password("a-new-secret-1234")
    response = client.patch(f"{CHARGE_POINTS}CP1/", {"password": None}, format="json")
    assert response.json()["has_password"] is False
    assert ChargePoint.objects.get().password == ""


def test_operator_approves_a_pending_charge_point():
    ChargePoint.objects.create(charge_point_id="CP1", registration_status="Pending")
    client = client_for(make_operator(*CP_PERMS))
    response = client.patch(
        f"{CHARGE_POINTS}CP1/", {"registration_status": "Accepted"}, format="json"
    )
    assert response.status_code == 200
    assert ChargePoint.objects.get().registration_status == "Accepted"


def test_boot_data_is_read_only():
    make_charge_point("CP1")
    client = client_for(make_operator(*CP_PERMS))
    client.patch(f"{CHARGE_POINTS}CP1/", {"vendor": "Fake", "is_online": True}, format="json")
    charge_point = ChargePoint.objects.get()
    assert charge_point.vendor == ""
    assert charge_point.is_online is False


def test_driver_sees_public_charge_point_fields_only(utrecht):
    charge_point = make_charge_point("CP1", station=utrecht, is_online=True)
    ChargePoint.objects.filter(pk=charge_point.pk).update(imsi="901700000000001")
    client = client_for(make_driver("alice"))
    body = client.get(f"{CHARGE_POINTS}CP1/").json()
    assert body == {
        "charge_point_id": "CP1",
        "station": utrecht.pk,
        "is_online": True,
        "last_heartbeat": None,
        "connectors": [{"connector_id": 1, "status": "Available", "error_code": "NoError"}],
    }
    assert client.patch(f"{CHARGE_POINTS}CP1/", {"station": None}, format="json").status_code == 403
    assert client.delete(f"{CHARGE_POINTS}CP1/").status_code == 403


def test_charge_point_filters():
    station = Station.objects.create(name="S")
    make_charge_point("CP-ON", station=station, is_online=True, connectors={1: "Faulted"})
    make_charge_point("CP-OFF", is_online=False)
    client = client_for(make_operator("stations.view_chargepoint"))

    def ids(**params):
        return [cp["charge_point_id"] for cp in client.get(CHARGE_POINTS, params).json()["results"]]

    assert ids(is_online="true") == ["CP-ON"]
    assert ids(station=station.pk) == ["CP-ON"]
    assert ids(connector_status="Faulted") == ["CP-ON"]
    assert ids(search="off") == ["CP-OFF"]


def test_unknown_charge_point_is_a_json_404():
    client = client_for(make_operator("stations.view_chargepoint"))
    response = client.get(f"{CHARGE_POINTS}NOPE/")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_charge_point_list_query_count_does_not_grow_with_rows(django_assert_max_num_queries):
    station = Station.objects.create(name="S")
    for number in range(10):
        make_charge_point(f"CP{number}", station=station, connectors={1: "Available", 2: "Faulted"})
    client = client_for(make_operator("stations.view_chargepoint"))
    with django_assert_max_num_queries(6):
        response = client.get(CHARGE_POINTS)
    assert response.json()["count"] == 10
    assert all(len(cp["connectors"]) == 2 for cp in response.json()["results"])

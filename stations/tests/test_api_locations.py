"""Stations as a map: anonymous reads, published stations, OCPI-shaped EVSEs, filters."""

from decimal import Decimal

import pytest
from django.core.cache import cache

from api_support.testing import client_for, make_charge_point, make_driver, make_operator
from stations.models import ChargePoint, Connector, Station

pytestmark = pytest.mark.django_db

STATIONS = "/api/v1/stations/"
TYPE2_22KW = {
    "standard": "IEC_62196_T2",
    "format": "SOCKET",
    "power_type": "AC_3_PHASE",
    "max_voltage": 230,
    "max_amperage": 32,
}
CCS_50KW = {
    "standard": "IEC_62196_T2_COMBO",
    "format": "CABLE",
    "power_type": "DC",
    "max_voltage": 500,
    "max_amperage": 125,
    "max_power_w": 50_000,
}


def station(name: str, **fields) -> Station:
    return Station.objects.create(
        name=name, latitude=Decimal("52.09"), longitude=Decimal("5.12"), **fields
    )


def charge_point(charge_point_id, site, *, plugs=None, **kwargs) -> ChargePoint:
    """A charge point whose connector 1 has the given plug description."""
    made = make_charge_point(charge_point_id, station=site, **kwargs)
    if plugs:
        Connector.objects.filter(charge_point=made, connector_id=1).update(**plugs)
    return made


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [s["name"] for s in response.json()["results"]]


@pytest.fixture
def operator():
    return client_for(make_operator("stations.view_station", "stations.change_station"))


# --- who reads the map --------------------------------------------------------------


def test_anonymous_reads_published_stations_by_default():
    public = station("Public")
    private = station("Depot", publish=False)
    client = client_for()
    assert names(client.get(STATIONS)) == ["Public"]
    assert client.get(f"{STATIONS}{public.pk}/").status_code == 200
    assert client.get(f"{STATIONS}{private.pk}/").status_code == 404


def test_anonymous_map_can_be_switched_off(settings):
    public = station("Public")
    settings.API_ANONYMOUS_MAP = False
    client = client_for()
    assert client.get(STATIONS).status_code == 401
    assert client.get(f"{STATIONS}{public.pk}/").status_code == 401
    assert names(client_for(make_driver("alice")).get(STATIONS)) == ["Public"]


def test_anonymous_never_writes():
    public = station("Public")
    client = client_for()
    assert client.post(STATIONS, {"name": "Mine"}, format="json").status_code == 401
    assert client.patch(f"{STATIONS}{public.pk}/", {"name": "X"}, format="json").status_code == 401
    assert client.delete(f"{STATIONS}{public.pk}/").status_code == 401
    assert list(Station.objects.values_list("name", flat=True)) == ["Public"]


def test_drivers_see_published_stations_operators_all(operator):
    station("Public")
    hidden = station("Depot", publish=False)
    driver = client_for(make_driver("alice"))
    assert names(driver.get(STATIONS)) == ["Public"]
    assert driver.get(f"{STATIONS}{hidden.pk}/").status_code == 404
    assert names(operator.get(STATIONS)) == ["Depot", "Public"]
    assert operator.get(f"{STATIONS}{hidden.pk}/").json()["publish"] is False


def test_anonymous_reads_use_the_anonymous_rate(settings):
    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "2/minute", "driver": "50/minute"},
    }
    station("Public")
    client = client_for()
    assert [client.get(STATIONS).status_code for _ in range(2)] == [200, 200]
    assert client.get(STATIONS).status_code == 429
    cache.clear()


# --- the shape ----------------------------------------------------------------------------


def test_station_carries_location_data_and_evses():
    site = station(
        "Market Square",
        opening_times={"twentyfourseven": True},
        facilities=["CAFE"],
        parking_type="ON_STREET",
        party_country_code="NL",
        party_id="CCH",
        operator_name="City Charging",
        operator_phone="+31 30 123 4567",
    )
    site.full_clean()  # as the console and the API store it: canonical
    site.save()
    cp = charge_point(
        "CP-0001",
        site,
        plugs=TYPE2_22KW,
        is_online=True,
        connectors={0: "Available", 1: "Available", 2: "Faulted"},
    )
    body = client_for().get(f"{STATIONS}{site.pk}/").json()
    # The fields apps used before are all still there.
    for name in ("id", "name", "address", "city", "latitude", "distance_km", "charge_points"):
        assert name in body
    assert body["opening_times"] == {
        "twentyfourseven": True,
        "regular_hours": [],
        "exceptional_openings": [],
        "exceptional_closings": [],
    }
    assert body["facilities"] == ["CAFE"]
    assert body["parking_type"] == "ON_STREET"
    assert body["operator"] == {
        "name": "City Charging",
        "website": "",
        "phone": "+31 30 123 4567",
        "email": "",
    }
    first, second = body["evses"]
    connector = Connector.objects.get(charge_point=cp, connector_id=1)
    assert first == {
        "uid": str(connector.pk),
        "evse_id": "NL*CCH*ECP0001*1",
        "status": "AVAILABLE",
        "charge_point_id": "CP-0001",
        "connector_id": 1,
        "connectors": [
            {
                "id": "1",
                "standard": "IEC_62196_T2",
                "format": "SOCKET",
                "power_type": "AC_3_PHASE",
                "max_voltage": 230,
                "max_amperage": 32,
                "max_electric_power": 22080,
                "last_updated": first["connectors"][0]["last_updated"],
            }
        ],
        "last_updated": first["last_updated"],
    }
    assert first["last_updated"].endswith("Z")
    assert second["status"] == "OUTOFORDER"
    assert second["connectors"][0]["standard"] is None  # not described yet
    assert body["last_updated"] >= first["last_updated"]


def test_connectors_collection_describes_the_plug_too():
    cp = charge_point("CP1", station("S"), plugs=CCS_50KW)
    connector = Connector.objects.get(charge_point=cp, connector_id=1)
    body = client_for(make_driver("alice")).get(f"/api/v1/connectors/{connector.pk}/").json()
    assert {key: body[key] for key in ("standard", "format", "power_type")} == {
        "standard": "IEC_62196_T2_COMBO",
        "format": "CABLE",
        "power_type": "DC",
    }
    assert (body["max_voltage"], body["max_amperage"], body["max_electric_power"]) == (
        500,
        125,
        50_000,
    )


def test_offline_charge_point_is_unknown_on_the_map():
    site = station("S")
    charge_point("CP1", site, is_online=False)
    (evse,) = client_for().get(f"{STATIONS}{site.pk}/").json()["evses"]
    assert evse["status"] == "UNKNOWN"


def test_charge_points_not_accepted_are_for_operators_only(operator):
    site = station("S")
    charge_point("CP-OK", site, is_online=True)
    pending = charge_point("CP-NEW", site, is_online=True)
    ChargePoint.objects.filter(pk=pending.pk).update(registration_status="Pending")
    for client in (client_for(), client_for(make_driver("alice"))):
        body = client.get(f"{STATIONS}{site.pk}/").json()
        assert [cp["charge_point_id"] for cp in body["charge_points"]] == ["CP-OK"]
        assert [evse["charge_point_id"] for evse in body["evses"]] == ["CP-OK"]
    body = operator.get(f"{STATIONS}{site.pk}/").json()
    assert [cp["charge_point_id"] for cp in body["charge_points"]] == ["CP-NEW", "CP-OK"]
    assert [evse["status"] for evse in body["evses"]] == ["INOPERATIVE", "AVAILABLE"]


# --- writing location data ----------------------------------------------------------------------


def test_operator_writes_location_data_in_canonical_form(operator):
    site = station("S")
    response = operator.patch(
        f"{STATIONS}{site.pk}/",
        {
            "opening_times": {
                "twentyfourseven": False,
                "regular_hours": [
                    {"weekday": 6, "period_begin": "09:00", "period_end": "12:00"},
                    {"weekday": 1, "period_begin": "08:00", "period_end": "20:00"},
                ],
                "exceptional_closings": [
                    {"period_begin": "2026-12-25T00:00:00+01:00", "period_end": "2026-12-26"}
                ],
            },
            "facilities": ["WIFI", "CAFE", "WIFI"],
            "party_country_code": "nl",
            "party_id": "cch",
            "operator": {"name": "City Charging", "website": "https://example.com"},
            "publish": False,
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    site.refresh_from_db()
    assert [h["weekday"] for h in site.opening_times["regular_hours"]] == [1, 6]
    assert site.opening_times["exceptional_closings"] == [
        {"period_begin": "2026-12-24T23:00:00Z", "period_end": "2026-12-26T00:00:00Z"}
    ]
    assert site.facilities == ["WIFI", "CAFE"]
    assert (site.party_country_code, site.party_id) == ("NL", "CCH")
    assert (site.operator_name, site.operator_website) == ("City Charging", "https://example.com")
    assert site.publish is False
    # A partial operator object changes only what it names.
    operator.patch(f"{STATIONS}{site.pk}/", {"operator": {"phone": "+3130"}}, format="json")
    site.refresh_from_db()
    assert (site.operator_name, site.operator_phone) == ("City Charging", "+3130")


@pytest.mark.parametrize(
    "body, field, message",
    [
        ({"opening_times": {"twentyfourseven": "always"}}, "opening_times", "twentyfourseven"),
        (
            {
                "opening_times": {
                    "twentyfourseven": False,
                    "regular_hours": [
                        {"weekday": 9, "period_begin": "08:00", "period_end": "09:00"}
                    ],
                }
            },
            "opening_times",
            "regular_hours[0].weekday",
        ),
        ({"facilities": ["SPA"]}, "facilities", "SPA"),
        ({"images": [{"url": "nope"}]}, "images", "[0].url"),
        ({"parking_type": "ROOFTOP"}, "parking_type", "ROOFTOP"),
        ({"party_id": "ABC"}, "party_country_code", "both"),
        ({"operator": {"email": "not-an-address"}}, "operator", "email"),
    ],
)
def test_bad_location_data_is_a_400_naming_the_field(operator, body, field, message):
    site = station("S")
    response = operator.patch(f"{STATIONS}{site.pk}/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert message in str(response.json()[field])


# --- filters --------------------------------------------------------------------------------------


def test_available_now_needs_an_available_connector_on_an_online_accepted_charge_point():
    charge_point("A", station("free"), is_online=True, connectors={1: "Available"})
    charge_point("B", station("busy"), is_online=True, connectors={1: "Preparing"})
    charge_point("C", station("offline"), is_online=False, connectors={1: "Available"})
    pending = charge_point("D", station("pending"), is_online=True, connectors={1: "Available"})
    ChargePoint.objects.filter(pk=pending.pk).update(registration_status="Pending")
    charge_point(
        "E", station("switched off"), is_online=True, connectors={0: "Unavailable", 1: "Available"}
    )
    client = client_for()
    assert names(client.get(STATIONS, {"available_now": "true"})) == ["free"]
    assert len(names(client.get(STATIONS, {"available_now": "false"}))) == 5


def test_standard_and_power_filters():
    charge_point("FAST", station("fast"), plugs=CCS_50KW)
    charge_point("SLOW", station("slow"), plugs=TYPE2_22KW)
    station("empty")
    client = client_for()
    assert names(client.get(STATIONS, {"standard": "IEC_62196_T2_COMBO"})) == ["fast"]
    assert names(client.get(f"{STATIONS}?standard=IEC_62196_T2&standard=CHADEMO")) == ["slow"]
    assert names(client.get(STATIONS, {"min_power_w": "22080"})) == ["fast", "slow"]
    assert names(client.get(STATIONS, {"min_power_w": "22081"})) == ["fast"]
    combined = client.get(STATIONS, {"standard": "IEC_62196_T2", "min_power_w": "50000"})
    assert names(combined) == []


def test_filters_combine_with_nearby_search():
    charge_point("FAST", station("fast"), plugs=CCS_50KW, is_online=True)
    far = Station.objects.create(name="far", latitude=Decimal("48.85"), longitude=Decimal("2.35"))
    charge_point("FAR", far, plugs=CCS_50KW, is_online=True)
    response = client_for().get(
        STATIONS,
        {"latitude": "52.09", "longitude": "5.12", "radius_km": "10", "min_power_w": "50000",
         "available_now": "true"},
    )  # fmt: skip
    assert names(response) == ["fast"]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"available_now": "maybe"}, "available_now"),
        ({"available": "perhaps"}, "available"),
        ({"standard": "TYPE_2"}, "standard"),
        ({"min_power_w": "lots"}, "min_power_w"),
        ({"min_power_w": "0"}, "min_power_w"),
        ({"min_power_w": "2.5"}, "min_power_w"),
    ],
)
def test_invalid_filter_values_are_a_400_naming_the_field(params, field):
    response = client_for().get(STATIONS, params)
    assert response.status_code == 400
    assert field in response.json()


# --- cost -----------------------------------------------------------------------------------------


def _fleet(stations: int) -> None:
    for number in range(stations):
        site = station(f"S{number}", party_country_code="NL", party_id="ABC")
        for cp in range(2):
            charge_point(
                f"CP{number}-{cp}",
                site,
                plugs=TYPE2_22KW,
                is_online=True,
                connectors={0: "Available", 1: "Available", 2: "Charging"},
            )


@pytest.mark.parametrize("stations", [2, 12])
def test_anonymous_map_query_count_does_not_grow_with_rows(stations, django_assert_max_num_queries):
    _fleet(stations)
    params = {"available_now": "true", "standard": "IEC_62196_T2", "min_power_w": "11000"}
    # count, page, charge points, connectors
    with django_assert_max_num_queries(4):
        response = client_for().get(STATIONS, params)
    assert response.json()["count"] == stations
    assert all(len(s["evses"]) == 4 for s in response.json()["results"])


def test_operator_query_count_does_not_grow_with_rows(operator, django_assert_max_num_queries):
    _fleet(10)
    operator.get(STATIONS)  # the first use of a token may do one-off bookkeeping
    # token, 2 permission lookups, count, page, charge points, connectors
    with django_assert_max_num_queries(7):
        response = operator.get(STATIONS)
    assert response.json()["count"] == 10


def test_schema_says_the_map_needs_no_token():
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    assert {} in paths["/api/v1/stations/"]["get"]["security"]
    assert {} in paths["/api/v1/stations/{id}/"]["get"]["security"]
    assert {} not in paths["/api/v1/stations/"]["post"]["security"]
    assert {} not in paths["/api/v1/stations/{id}/"]["patch"]["security"]

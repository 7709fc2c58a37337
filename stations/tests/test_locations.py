"""Location data: the checks of Station/Connector.clean() and the OCPI mapping."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from api_support.testing import make_charge_point
from stations.locations import (
    connector_max_power,
    evse_id,
    evse_status,
    location_last_updated,
    station_evses,
    station_filter_available_now,
    station_filter_min_power,
    station_filter_standards,
)
from stations.models import ChargePoint, Connector, Station
from stations.models.location_data import facilities_clean, images_clean, opening_times_clean
from stations.selectors import station_list

# --- opening times --------------------------------------------------------------


def test_always_open_is_canonical():
    assert opening_times_clean({"twentyfourseven": True}) == {
        "twentyfourseven": True,
        "regular_hours": [],
        "exceptional_openings": [],
        "exceptional_closings": [],
    }
    assert opening_times_clean(None) is None


def test_regular_hours_are_sorted_and_exceptions_turned_to_utc():
    cleaned = opening_times_clean(
        {
            "twentyfourseven": False,
            "regular_hours": [
                {"weekday": 2, "period_begin": "08:00", "period_end": "20:00"},
                {"weekday": 1, "period_begin": "13:00", "period_end": "23:59"},
                {"weekday": 1, "period_begin": "00:00", "period_end": "12:00"},
            ],
            "exceptional_closings": [
                # Local time with an offset, and one without a zone (UTC by OCPI).
                {"period_begin": "2026-12-25T01:00:00+01:00", "period_end": "2026-12-26T00:00"},
            ],
        }
    )
    assert [(h["weekday"], h["period_begin"]) for h in cleaned["regular_hours"]] == [
        (1, "00:00"),
        (1, "13:00"),
        (2, "08:00"),
    ]
    assert cleaned["exceptional_closings"] == [
        {"period_begin": "2026-12-25T00:00:00Z", "period_end": "2026-12-26T00:00:00Z"}
    ]
    assert cleaned["exceptional_openings"] == []


def _problems(value) -> str:
    with pytest.raises(ValidationError) as caught:
        opening_times_clean(value)
    return " | ".join(caught.value.messages)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("always", "Give an object"),
        ({}, "twentyfourseven: give true or false"),
        ({"twentyfourseven": "yes"}, "twentyfourseven: give true or false"),
        ({"twentyfourseven": True, "holidays": []}, "Unknown keys: holidays"),
        ({"twentyfourseven": False}, "regular_hours: give at least one period"),
        (
            {
                "twentyfourseven": True,
                "regular_hours": [{"weekday": 1, "period_begin": "08:00", "period_end": "09:00"}],
            },
            "leave empty when twentyfourseven is true",
        ),
        (
            {
                "twentyfourseven": False,
                "regular_hours": [{"weekday": 8, "period_begin": "08:00", "period_end": "09:00"}],
            },
            "regular_hours[0].weekday",
        ),
        (
            {
                "twentyfourseven": False,
                "regular_hours": [
                    {"weekday": True, "period_begin": "08:00", "period_end": "09:00"}
                ],
            },
            "regular_hours[0].weekday",
        ),
        (
            {
                "twentyfourseven": False,
                "regular_hours": [{"weekday": 1, "period_begin": "8:00", "period_end": "24:00"}],
            },
            "regular_hours[0].period_begin",
        ),
        (
            {
                "twentyfourseven": False,
                "regular_hours": [{"weekday": 1, "period_begin": "20:00", "period_end": "08:00"}],
            },
            "regular_hours[0].period_end: must be later",
        ),
        (
            {
                "twentyfourseven": False,
                "regular_hours": [
                    {"weekday": 3, "period_begin": "08:00", "period_end": "12:00"},
                    {"weekday": 3, "period_begin": "11:00", "period_end": "18:00"},
                ],
            },
            "periods overlap on weekday 3",
        ),
        (
            {"twentyfourseven": False, "regular_hours": [{"weekday": 1}]},
            "regular_hours[0]: give exactly weekday",
        ),
        (
            {
                "twentyfourseven": True,
                "exceptional_closings": [{"period_begin": "tomorrow", "period_end": "later"}],
            },
            "exceptional_closings[0]: give date-times",
        ),
        (
            {
                "twentyfourseven": True,
                "exceptional_openings": [
                    {"period_begin": "2026-12-25T10:00:00Z", "period_end": "2026-12-25T09:00:00Z"}
                ],
            },
            "exceptional_openings[0].period_end: must be later",
        ),
        (
            {"twentyfourseven": True, "exceptional_openings": {}},
            "exceptional_openings: give a list",
        ),
    ],
)
def test_opening_times_problems_name_the_place(value, expected):
    assert expected in _problems(value)


def test_every_problem_is_listed_at_once():
    problems = _problems(
        {
            "twentyfourseven": False,
            "regular_hours": [
                {"weekday": 0, "period_begin": "08:00", "period_end": "09:00"},
                {"weekday": 1, "period_begin": "10:00", "period_end": "09:00"},
            ],
        }
    )
    assert "regular_hours[0].weekday" in problems
    assert "regular_hours[1].period_end" in problems


# --- facilities and images ----------------------------------------------------------


def test_facilities_are_ocpi_values_each_once():
    assert facilities_clean(["WIFI", "CAFE", "WIFI"]) == ["WIFI", "CAFE"]
    assert facilities_clean(None) == []
    with pytest.raises(ValidationError, match="Unknown facilities: SAUNA"):
        facilities_clean(["WIFI", "SAUNA"])
    with pytest.raises(ValidationError):
        facilities_clean("WIFI")


def test_images_keep_ocpi_fields_and_list_every_problem():
    image = {"url": "https://example.com/a.jpg", "category": "LOCATION", "type": "jpeg"}
    assert images_clean([{**image, "width": 800, "height": None}]) == [{**image, "width": 800}]
    with pytest.raises(ValidationError) as caught:
        images_clean(
            [
                {"url": "ftp://example.com/a", "category": "SELFIE", "type": "jpeg2000"},
                {**image, "width": 0, "colour": "red"},
            ]
        )
    problems = " | ".join(caught.value.messages)
    for expected in (
        "[0].url",
        "[0].category",
        "[0].type",
        "[1].width",
        "[1].unknown keys: colour",
    ):
        assert expected in problems


# --- Station.clean and Connector.clean ---------------------------------------------


def test_station_clean_normalises_and_names_the_fields():
    station = Station(
        name="S",
        opening_times={"twentyfourseven": True},
        facilities=["WIFI", "WIFI"],
        party_country_code="nl",
        party_id="abc",
    )
    station.full_clean()
    assert station.opening_times["regular_hours"] == []
    assert station.facilities == ["WIFI"]
    assert (station.party_country_code, station.party_id) == ("NL", "ABC")

    station = Station(
        name="S", opening_times={"twentyfourseven": 1}, facilities=["SPA"], party_id="AB!"
    )
    with pytest.raises(ValidationError) as caught:
        station.full_clean()
    assert set(caught.value.message_dict) == {"opening_times", "facilities", "party_id"}


def test_party_id_and_country_code_come_together():
    with pytest.raises(ValidationError) as caught:
        Station(name="S", party_id="ABC").full_clean()
    assert "party_country_code" in caught.value.message_dict


@pytest.mark.django_db
def test_connector_clean_checks_evse_id_and_current():
    charge_point = make_charge_point("CP1")
    connector = Connector.objects.get(charge_point=charge_point, connector_id=1)
    connector.evse_id = "nl*abc*e123*1"
    connector.standard = "IEC_62196_T2_COMBO"
    connector.power_type = "DC"
    connector.full_clean()
    assert connector.evse_id == "NL*ABC*E123*1"

    connector.evse_id = "NL-ABC-123"
    connector.power_type = "AC_3_PHASE"
    with pytest.raises(ValidationError) as caught:
        connector.full_clean()
    assert set(caught.value.message_dict) == {"evse_id", "power_type"}

    connector.evse_id = ""
    connector.standard = "DOMESTIC_F"
    connector.power_type = "DC"
    with pytest.raises(ValidationError, match="AC only"):
        connector.full_clean()
    connector.standard = "IEC_62196_T2"  # Type 2 comes as AC and (rarely) DC
    connector.full_clean()


# --- the OCPI mapping ----------------------------------------------------------------


@pytest.mark.parametrize(
    "status, expected",
    [
        ("Available", "AVAILABLE"),
        ("Preparing", "CHARGING"),
        ("Charging", "CHARGING"),
        ("SuspendedEV", "CHARGING"),
        ("SuspendedEVSE", "CHARGING"),
        ("Finishing", "BLOCKED"),
        ("Reserved", "RESERVED"),
        ("Unavailable", "INOPERATIVE"),
        ("Faulted", "OUTOFORDER"),
        ("Nonsense", "UNKNOWN"),
    ],
)
def test_ocpp_status_maps_to_ocpi(status, expected):
    assert (
        evse_status(connector_status=status, charge_point_online=True, charge_point_accepted=True)
        == expected
    )


def test_charge_point_state_comes_first():
    def status(**kwargs):
        return evse_status(**{"connector_status": "Available", **kwargs})

    assert status(charge_point_online=False, charge_point_accepted=True) == "UNKNOWN"
    assert status(charge_point_online=True, charge_point_accepted=False) == "INOPERATIVE"
    assert status(charge_point_online=False, charge_point_accepted=False) == "INOPERATIVE"
    for whole, expected in (("Faulted", "OUTOFORDER"), ("Unavailable", "INOPERATIVE")):
        assert (
            status(charge_point_online=True, charge_point_accepted=True, charge_point_status=whole)
            == expected
        )
    assert (
        status(charge_point_online=True, charge_point_accepted=True, charge_point_status="Charging")
        == "AVAILABLE"
    )


def test_evse_id_is_printed_or_derived_or_none():
    derived = {"party_country_code": "NL", "party_id": "ABC", "connector_id": 2}
    assert evse_id(charge_point_id="cp-0001", **derived) == "NL*ABC*ECP0001*2"
    assert evse_id(charge_point_id="cp-0001", printed="NL*ABC*E9", **derived) == "NL*ABC*E9"
    assert evse_id(charge_point_id="###", **derived) is None
    assert evse_id(charge_point_id="X" * 40, **derived) is None  # the outlet id: 31 at most
    assert (
        evse_id(party_country_code="", party_id="", charge_point_id="CP1", connector_id=1) is None
    )


@pytest.mark.parametrize(
    "power_type, voltage, amperage, set_w, expected",
    [
        ("AC_1_PHASE", 230, 16, None, 3680),
        ("AC_2_PHASE", 230, 16, None, 7360),
        ("AC_2_PHASE_SPLIT", 240, 48, None, 11520),
        ("AC_3_PHASE", 230, 32, None, 22080),
        ("DC", 920, 400, 150_000, 150_000),  # set: lower than V x A
        ("DC", 400, 125, None, 50_000),
        ("", 230, 16, None, None),
        ("AC_3_PHASE", None, 16, None, None),
    ],
)
def test_connector_max_power(power_type, voltage, amperage, set_w, expected):
    assert (
        connector_max_power(
            max_power_w=set_w, power_type=power_type, max_voltage=voltage, max_amperage=amperage
        )
        == expected
    )


@pytest.mark.django_db
def test_station_evses_from_prefetched_rows(django_assert_num_queries):
    station = Station.objects.create(name="S", party_country_code="NL", party_id="ABC")
    charge_point = make_charge_point(
        "CP-1", station=station, is_online=True, connectors={0: "Available", 1: "Charging"}
    )
    Connector.objects.filter(charge_point=charge_point, connector_id=1).update(
        standard="IEC_62196_T2", format="SOCKET", power_type="AC_3_PHASE", max_voltage=230,
        max_amperage=16,
    )  # fmt: skip
    pending = make_charge_point("CP-2", station=station, connectors={1: "Available"})
    ChargePoint.objects.filter(pk=pending.pk).update(registration_status="Pending")
    loaded = station_list().get(pk=station.pk)
    with django_assert_num_queries(0):
        evses = station_evses(loaded)
        public = station_evses(loaded, include_unaccepted=False)
    connector = Connector.objects.get(charge_point=charge_point, connector_id=1)
    assert [e["charge_point_id"] for e in evses] == ["CP-1", "CP-2"]
    assert [e["charge_point_id"] for e in public] == ["CP-1"]
    first = evses[0]
    assert first["uid"] == str(connector.pk)
    assert first["evse_id"] == "NL*ABC*ECP1*1"
    assert first["status"] == "CHARGING"
    assert first["connector_id"] == 1
    assert first["connectors"] == [
        {
            "id": "1",
            "standard": "IEC_62196_T2",
            "format": "SOCKET",
            "power_type": "AC_3_PHASE",
            "max_voltage": 230,
            "max_amperage": 16,
            "max_electric_power": 11040,
            "last_updated": connector.updated_at,
        }
    ]
    assert evses[1]["status"] == "INOPERATIVE"  # not accepted
    assert location_last_updated(loaded, evses) >= loaded.updated_at


@pytest.mark.django_db
def test_an_ocpp_201_evse_has_one_plug_numbered_1():
    station = Station.objects.create(name="S")
    charge_point = make_charge_point("CP-201", station=station, connectors={3: "Available"})
    ChargePoint.objects.filter(pk=charge_point.pk).update(ocpp_version="2.0.1")
    (evse,) = station_evses(station_list().get(pk=station.pk))
    assert evse["connector_id"] == 3
    assert evse["connectors"][0]["id"] == "1"
    assert evse["evse_id"] is None  # no operator id on the station


@pytest.mark.django_db
def test_going_offline_moves_last_updated():
    station = Station.objects.create(name="S")
    charge_point = make_charge_point("CP1", station=station, is_online=False)
    later = datetime.now(UTC) + timedelta(hours=1)
    ChargePoint.objects.filter(pk=charge_point.pk).update(last_seen=later)
    (evse,) = station_evses(station_list().get(pk=station.pk))
    assert evse["status"] == "UNKNOWN"
    assert evse["last_updated"] == later


# --- the same rules in SQL ---------------------------------------------------------------


@pytest.mark.django_db
def test_sql_filters_agree_with_the_mapping():
    stations = {name: Station.objects.create(name=name) for name in ("a", "b", "c", "d", "e")}
    make_charge_point("A", station=stations["a"], is_online=True, connectors={1: "Available"})
    make_charge_point("B", station=stations["b"], is_online=False, connectors={1: "Available"})
    make_charge_point(
        "C", station=stations["c"], is_online=True, connectors={0: "Unavailable", 1: "Available"}
    )
    make_charge_point("D", station=stations["d"], is_online=True, connectors={1: "Preparing"})
    pending = make_charge_point("E", station=stations["e"], is_online=True)
    ChargePoint.objects.filter(pk=pending.pk).update(registration_status="Pending")

    available = set(
        station_filter_available_now(Station.objects.all()).values_list("name", flat=True)
    )
    by_mapping = {
        station.name
        for station in station_list()
        if any(evse["status"] == "AVAILABLE" for evse in station_evses(station))
    }
    assert available == by_mapping == {"a"}


@pytest.mark.django_db
def test_power_and_standard_filters_match_connector_max_power():
    fast = Station.objects.create(name="fast")
    slow = Station.objects.create(name="slow")
    hidden = Station.objects.create(name="hidden")
    for station, fields in (
        (
            fast,
            {
                "standard": "IEC_62196_T2_COMBO",
                "power_type": "DC",
                "max_voltage": 400,
                "max_amperage": 125,
            },
        ),
        (
            slow,
            {
                "standard": "IEC_62196_T2",
                "power_type": "AC_3_PHASE",
                "max_voltage": 230,
                "max_amperage": 16,
            },
        ),
        (hidden, {"standard": "CHADEMO", "max_power_w": 50_000}),
    ):
        charge_point = make_charge_point(f"CP-{station.name}", station=station)
        Connector.objects.filter(charge_point=charge_point).update(**fields)
    ChargePoint.objects.filter(charge_point_id="CP-hidden").update(registration_status="Pending")

    def names(queryset):
        return sorted(queryset.values_list("name", flat=True))

    everything = Station.objects.all()
    assert names(station_filter_min_power(everything, watts=50_000, accepted_only=False)) == [
        "fast",
        "hidden",
    ]
    assert names(station_filter_min_power(everything, watts=50_000, accepted_only=True)) == ["fast"]
    assert names(station_filter_min_power(everything, watts=11_040, accepted_only=True)) == [
        "fast",
        "slow",
    ]
    assert names(station_filter_min_power(everything, watts=11_041, accepted_only=True)) == ["fast"]
    assert names(
        station_filter_standards(
            everything, standards=["IEC_62196_T2", "CHADEMO"], accepted_only=False
        )
    ) == ["hidden", "slow"]
    assert names(
        station_filter_standards(
            everything, standards=["IEC_62196_T2", "CHADEMO"], accepted_only=True
        )
    ) == ["slow"]

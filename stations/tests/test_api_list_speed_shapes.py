"""The big lists' fast paths answer byte for byte as DRF's own path, in a fixed number of queries.

The row plans (api_support/row_plans.py) replace DRF's field-by-field
serialisation; `general_path()` switches them off, so each answer is asked
for twice and compared. The list querysets load only the columns the
serializers read (stations/api/list_querysets.py, billing invoice_list()): a
column they miss would be read row by row, which the query counts catch.
"""

from __future__ import annotations

import datetime
import enum
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import serializers

from api_support.row_plans import RowPlanMixin, general_path
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
from billing.models import InvoiceLine
from loadmanagement import services as loadmanagement
from stations.choices import DisputeResolution, OcppVersion, RegistrationStatus, SessionStatus
from stations.models import ChargePoint, Connector, Station

pytestmark = pytest.mark.django_db

API = "/api/v1"
OPERATOR_PERMISSIONS = (
    "stations.view_station",
    "stations.view_transaction",
    "billing.view_invoice",
)
OPENING_TIMES = {
    "twentyfourseven": False,
    "regular_hours": [
        {"weekday": day, "period_begin": "07:00", "period_end": "22:00"} for day in range(1, 8)
    ],
    "exceptional_openings": [],
    "exceptional_closings": [
        {"period_begin": "2026-12-24T17:00:00Z", "period_end": "2026-12-26T07:00:00Z"}
    ],
}
TYPE2 = {
    "standard": "IEC_62196_T2",
    "format": "SOCKET",
    "power_type": "AC_3_PHASE",
    "max_voltage": 230,
    "max_amperage": 32,
}
SNAPSHOT = {"name": "Market Square", "currency": "EUR", "price_per_kwh": "0.3900", "periods": []}
SEGMENTS = [{"from_wh": 70_000, "to_wh": 76_000}, {"from_wh": 200, "to_wh": 1500}]


def site(name: str, number: int, **fields) -> Station:
    return Station.objects.create(
        name=name,
        latitude=Decimal("52.09") + number,
        longitude=Decimal("5.121420"),
        **fields,
    )


def charge_points_at(station: Station, prefix: str) -> list[ChargePoint]:
    """Four charge points as a site has them: both versions, offline, not accepted, down."""
    online = make_charge_point(
        f"{prefix}-1", station=station, is_online=True, connectors={1: "Charging", 2: "Available"}
    )
    Connector.objects.filter(charge_point=online, connector_id=1).update(**TYPE2)
    Connector.objects.filter(charge_point=online, connector_id=2).update(
        evse_id=f"NL*CCH*E{prefix}*2", max_power_w=50_000, power_type="DC"
    )
    v201 = make_charge_point(f"{prefix}-2", station=station, is_online=True)
    ChargePoint.objects.filter(pk=v201.pk).update(
        ocpp_version=OcppVersion.V201, connected_at=T0 + timedelta(days=1)
    )
    offline = make_charge_point(f"{prefix}-3", station=station, connectors={1: "Finishing"})
    ChargePoint.objects.filter(pk=offline.pk).update(last_seen=T0 + timedelta(days=2))
    down = make_charge_point(
        f"{prefix}-4", station=station, is_online=True, connectors={0: "Faulted", 1: "Available"}
    )
    ChargePoint.objects.filter(pk=down.pk).update(registration_status=RegistrationStatus.PENDING)
    return [online, v201, offline, down]


def stations_network(count: int, *, first: int = 0) -> list[Station]:
    """`count` stations of four charge points; every third with OCPI location data,
    every fourth unpublished, the first two sharing a grid connection."""
    made = []
    for number in range(first, first + count):
        location = {}
        if number % 3 == 0:
            location = {
                "party_country_code": "NL",
                "party_id": "CCH",
                "operator_name": "City Charging",
                "operator_website": "https://example.com",
                "operator_phone": "+31 30 123 4567",
                "operator_email": "help@example.com",
                "opening_times": OPENING_TIMES,
                "facilities": ["CAFE", "TRAIN_STATION"],
                "parking_type": "PARKING_LOT",
                "images": [{"url": "https://example.com/a.jpg", "category": "LOCATION"}],
                "directions": "Behind the town hall.",
                "charging_when_closed": False,
                "time_zone": "Europe/Amsterdam",
            }
        station = site(f"Site {number:02d}", number, publish=number % 4 != 3, **location)
        charge_points_at(station, f"S{number:02d}")
        made.append(station)
    loadmanagement.site_limit_set(station_id=made[0].pk, grid_limit_w=40_000)
    if count > 1:
        loadmanagement.site_stations_set(
            station_id=made[0].pk, station_ids=[made[0].pk, made[1].pk]
        )
    return made


def sessions_network(count: int, *, driver_tag: str = "DRIVER-TAG", name: str = "CP-S") -> None:
    """`count` sessions of every kind a list shows, invoiced ones with several lines;
    every second one the driver's (`driver_tag`)."""
    charge_point = make_charge_point(name, connectors={1: "Available", 2: "Available"})
    for number in range(count):
        start = T0 + timedelta(hours=number)
        tag = driver_tag if number % 2 else f"TAG{number}"
        kind = number % 6
        if kind == 0:  # running, with its energy so far
            session = make_session(charge_point, tag, start=start, connector_id=10 + number)
            add_reading(session, "12500", minutes=15)
        elif kind == 1:  # refused: never ran
            make_session(charge_point, tag, start=start, status=SessionStatus.REFUSED)
        elif kind == 2:  # disputed, waiting for a decision
            make_session(
                charge_point,
                tag,
                start=start,
                energy_wh=7300,
                disputed_at=start + timedelta(hours=1),
                dispute_reason="The energy register went backwards.\nMore than 22 kW allow.",
                meter_segments=SEGMENTS,
                tariff_snapshot=SNAPSHOT,
            )
        elif kind == 3:  # corrected after a dispute, then invoiced
            session = make_session(
                charge_point,
                tag,
                start=start,
                energy_wh=6100,
                disputed_at=start + timedelta(hours=1),
                dispute_reason="Odd",
                dispute_resolution=DisputeResolution.CORRECTED,
                dispute_resolved_at=start + timedelta(days=1, microseconds=250),
                dispute_note="Meter replaced ü",
                energy_wh_reported=6500,
                ocpp_transaction_id=f"uuid-{number}",
            )
            invoiced(session)
        else:  # ended and invoiced
            invoiced(make_session(charge_point, tag, start=start, energy_wh=100 * number))


def invoiced(session) -> None:
    invoice = make_invoice(session, total="6.43")
    InvoiceLine.objects.create(
        invoice=invoice,
        component="session_fee",
        description="Session fee",
        quantity=Decimal("1"),
        unit="session",
        unit_price=Decimal("0.5"),
        amount=Decimal("0.50"),
    )


def both_paths(client, url: str) -> tuple[bytes, bytes]:
    """The answer with the row plans, and with DRF's own field-by-field path."""
    planned = client.get(url)
    with general_path():
        general = client.get(url)
    assert planned.status_code == 200, planned.content
    assert general.status_code == 200, general.content
    return planned.content, general.content


def query_count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(captured.captured_queries)


@pytest.fixture
def operator():
    return client_for(make_operator(*OPERATOR_PERMISSIONS))


@pytest.fixture
def no_sync_lag(settings):
    settings.API_SYNC_SAFETY_LAG_SECONDS = 0


# --- the same answer -------------------------------------------------------------------


def test_station_lists_answer_as_drfs_own_path(operator, settings):
    settings.API_ANONYMOUS_MAP = True
    stations = stations_network(5)
    driver = client_for(make_driver("map-user"))
    urls = [
        f"{API}/stations/",
        f"{API}/stations/?latitude=52.1&longitude=5.1&radius_km=2000",
        f"{API}/stations/{stations[0].pk}/",
        f"{API}/stations/{stations[1].pk}/",
    ]
    for client in (operator, driver, client_for()):
        for url in urls[:3]:
            planned, general = both_paths(client, url)
            assert planned == general, url
    planned, general = both_paths(operator, urls[3])
    assert planned == general
    # The answer does show what the plans had to get right.
    body = operator.get(urls[0]).json()["results"]
    assert {evse["status"] for station in body for evse in station["evses"]} >= {
        "CHARGING",
        "AVAILABLE",
        "UNKNOWN",
        "INOPERATIVE",
    }
    assert body[0]["grid_limit_w"] == body[1]["grid_limit_w"] == 40_000
    assert body[0]["latitude"] == "52.090000"


def test_transaction_lists_answer_as_drfs_own_path(operator, no_sync_lag):
    driver = client_for(make_driver("session-driver", "DRIVER-TAG"))
    sessions_network(12)
    for client, url in [
        (operator, f"{API}/transactions/?page_size=500"),
        (operator, f"{API}/transactions/?page_mode=cursor&page_size=5"),
        (operator, f"{API}/transactions/?disputed=true"),
        (driver, f"{API}/transactions/"),
        (driver, f"{API}/me/transactions/?page_size=500"),
        (driver, f"{API}/me/transactions/?page_mode=cursor"),
    ]:
        planned, general = both_paths(client, url)
        assert planned == general, url
    rows = operator.get(f"{API}/transactions/?page_size=500").json()["results"]
    assert {row["status"] for row in rows} == {"running", "refused", "ended"}
    assert {row["energy_wh"] for row in rows if row["status"] == "running"} == {2500}
    assert any(row["invoice"] for row in rows) and any(row["invoice"] is None for row in rows)
    session = rows[0]["id"]
    planned, general = both_paths(operator, f"{API}/transactions/{session}/")
    assert planned == general


def test_datetimes_follow_the_active_time_zone_on_both_paths(operator):
    sessions_network(6)
    with timezone.override("Asia/Kolkata"):
        planned, general = both_paths(operator, f"{API}/transactions/")
    assert planned == general
    assert b"+05:30" in planned


def test_invoice_lists_answer_as_drfs_own_path(operator, no_sync_lag):
    driver = client_for(make_driver("invoice-driver", "DRIVER-TAG"))
    sessions_network(12)
    for client, url in [
        (operator, f"{API}/invoices/?page_size=500"),
        (operator, f"{API}/invoices/?page_mode=cursor&page_size=3"),
        (driver, f"{API}/me/invoices/"),
        (driver, f"{API}/invoices/"),
    ]:
        planned, general = both_paths(client, url)
        assert planned == general, url
    rows = operator.get(f"{API}/invoices/").json()["results"]
    assert [len(row["lines"]) for row in rows] == [2] * len(rows)
    assert rows[0]["lines"][1]["unit_price"] == "0.5000"
    planned, general = both_paths(operator, f"{API}/invoices/{rows[0]['id']}/")
    assert planned == general


# --- a fixed number of queries ---------------------------------------------------------


def test_station_list_queries_do_not_grow_with_stations_charge_points_or_connectors(operator):
    stations_network(2)
    few = query_count(operator, f"{API}/stations/")
    stations_network(6, first=2)
    assert len(operator.get(f"{API}/stations/").json()["results"]) == 8
    assert query_count(operator, f"{API}/stations/") == few


def test_transaction_list_queries_do_not_grow_with_rows(operator, no_sync_lag):
    sessions_network(6)
    few = {
        url: query_count(operator, url)
        for url in (
            f"{API}/transactions/?page_size=500",
            f"{API}/transactions/?page_mode=cursor&page_size=500",
        )
    }
    sessions_network(30, driver_tag="OTHER", name="CP-MORE")
    for url, count in few.items():
        assert query_count(operator, url) == count, url


def test_invoice_list_queries_do_not_grow_with_rows(operator, no_sync_lag):
    sessions_network(6)
    url = f"{API}/invoices/?page_size=500"
    few = query_count(operator, url)
    sessions_network(30, driver_tag="OTHER", name="CP-MORE")
    assert query_count(operator, url) == few


# --- the plans' corner cases, against DRF itself ---------------------------------------


class Colour(enum.Enum):
    RED = "red"


class Child(RowPlanMixin, serializers.Serializer):
    number = serializers.IntegerField()
    label = serializers.CharField(required=False)


class Tricky(RowPlanMixin, serializers.Serializer):
    """Fields whose DRF path the plans must follow: defaults, skips, callables, rounding."""

    plain = serializers.CharField()
    optional = serializers.CharField(required=False)
    with_default = serializers.CharField(default="fallback")
    nullable = serializers.CharField(allow_null=True)
    called = serializers.CharField(source="shout")
    through = serializers.IntegerField(source="child.number", allow_null=True)
    child = Child(allow_null=True)
    children = Child(many=True)
    amount = serializers.DecimalField(max_digits=6, decimal_places=2)
    rounded = serializers.DecimalField(max_digits=6, decimal_places=2)
    whole = serializers.DecimalField(max_digits=6, decimal_places=2, coerce_to_string=False)
    moment = serializers.DateTimeField()
    naive = serializers.DateTimeField()
    flag = serializers.BooleanField()
    flag_number = serializers.BooleanField()
    choice = serializers.ChoiceField(choices=[("a", "A"), ("red", "Red")])
    choice_enum = serializers.ChoiceField(choices=[("red", "Red")])
    big = serializers.IntegerField()
    text_number = serializers.CharField()


def tricky_row(number: int, **overrides):
    row = SimpleNamespace(
        plain=f"row {number}",
        with_default="set" if number % 2 else None,
        nullable=None,
        shout=lambda: f"HELLO {number}",
        child=SimpleNamespace(number=number, label="x") if number % 2 else None,
        children=[{"number": n} for n in range(number % 3)],
        amount=Decimal("12.30"),
        rounded=Decimal("1.005") * number,
        whole=Decimal("7.00"),
        moment=datetime.datetime(2026, 11, 26, 10, 0, number, 5, tzinfo=datetime.UTC),
        naive=datetime.datetime(2026, 11, 26, 10, 0),
        flag=bool(number % 2),
        flag_number=number % 2,
        choice="a" if number % 2 else "",
        choice_enum=Colour.RED,
        big=2**40 + number,
        text_number=number,
    )
    if number % 2:
        row.optional = "present"
    if number % 3 == 0:
        del row.with_default
    for name, value in overrides.items():
        setattr(row, name, value)
    return row


def both_representations(serializer_class, rows):
    planned = serializer_class(rows, many=True).data
    with general_path():
        general = serializer_class(rows, many=True).data
    return planned, general


def test_plans_follow_drf_on_objects_dicts_and_odd_values():
    rows = [tricky_row(number) for number in range(7)]
    planned, general = both_representations(Tricky, rows)
    assert planned == general
    assert [list(row) for row in planned] == [list(row) for row in general]  # key order
    assert planned[1]["called"] == "HELLO 1"
    assert "optional" not in planned[0] and planned[1]["optional"] == "present"
    assert planned[3]["rounded"] == "3.02"  # quantized as DRF does
    with timezone.override("America/New_York"):
        planned, general = both_representations(Tricky, rows)
    assert planned == general
    assert planned[0]["naive"] == general[0]["naive"]

    dicts = [{"number": 1, "label": "a"}, {"number": 2}, {"number": 3, "label": None}]
    planned, general = both_representations(Child, dicts)
    assert (
        planned
        == general
        == [
            {"number": 1, "label": "a"},
            {"number": 2},
            {"number": 3, "label": None},
        ]
    )


def test_plans_raise_what_drf_raises_for_a_missing_required_value():
    row = tricky_row(1)
    del row.plain
    with pytest.raises(AttributeError) as planned:
        Tricky(row).to_representation(row)
    with general_path(), pytest.raises(AttributeError) as general:
        Tricky(row).to_representation(row)
    assert str(planned.value) == str(general.value)

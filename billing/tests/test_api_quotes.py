"""GET charge-points/{id}/connectors/{n}/quote/: the price before charging, over HTTP."""

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from api_support.testing import client_for, make_driver, make_operator
from billing.models import TagGroup, Tariff, TariffPeriod
from billing.services import invoice_create, transaction_start_priced
from drivers.models import IdTag
from stations.choices import RegistrationStatus, SessionStatus
from stations.models import ChargePoint, Station, Transaction

pytestmark = pytest.mark.django_db

QUOTE = "/api/v1/charge-points/CP-1/connectors/1/quote/"


@pytest.fixture
def tariffs(charge_point, station):
    """A public tariff with night prices, and a cheaper one for the Fleet group."""
    Station.objects.filter(pk=station.pk).update(time_zone="Europe/Berlin")
    charge_point.connectors.create(connector_id=1)
    Tariff.objects.all().delete()  # the default a migration installs
    public = Tariff.objects.create(
        name="Public",
        is_default=True,
        price_per_kwh=Decimal("0.4500"),
        session_fee=Decimal("1.00"),
        vat_rate=Decimal("19.00"),
    )
    TariffPeriod.objects.create(
        tariff=public, start_time=time(22), end_time=time(6), price_per_kwh=Decimal("0.3000")
    )
    fleet = TagGroup.objects.create(name="Fleet")
    fleet.id_tags.add(IdTag.objects.get(id_tag="TAG-1"))
    fleet_tariff = Tariff.objects.create(
        name="Fleet", tag_group=fleet, price_per_kwh=Decimal("0.2500"), vat_rate=Decimal("19.00")
    )
    return {"public": public, "fleet": fleet_tariff}


@pytest.fixture
def fleet_driver(tariffs):
    user = make_driver("fiona")
    IdTag.objects.filter(id_tag="TAG-1").update(driver=user.driver)
    return user


def test_a_visitor_gets_the_public_tariff(tariffs):
    response = client_for().get(QUOTE)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["tariff"] == {"id": tariffs["public"].pk, "name": "Public"}
    assert (body["currency"], body["vat_rate"], body["id_tag"]) == ("EUR", "19.00", None)
    assert body["components"] == [
        {
            "component": "energy",
            "price": "0.4500",
            "unit": "kWh",
            "grace_minutes": None,
            "power_threshold_w": None,
        },
        {
            "component": "session_fee",
            "price": "1.00",
            "unit": "session",
            "grace_minutes": None,
            "power_threshold_w": None,
        },
    ]
    assert body["time_zone"] == "Europe/Berlin"
    # Nothing asked: the estimate of no energy and no time, priced as its invoice would be.
    estimate = body["estimate"]
    assert (estimate["energy_wh"], estimate["minutes"], estimate["total"]) == (0, 0, "0.00")


def test_a_fleet_driver_gets_their_group_s_tariff(fleet_driver, tariffs):
    body = client_for(fleet_driver).get(QUOTE).json()
    assert body["tariff"] == {"id": tariffs["fleet"].pk, "name": "Fleet"}
    assert body["id_tag"] == "TAG-1"
    assert [window["price_per_kwh"] for window in body["periods"]] == ["0.2500"]


def test_a_driver_without_a_group_gets_the_public_tariff(tariffs):
    user = make_driver("gus", "GUS-1")
    body = client_for(user).get(QUOTE).json()
    assert (body["tariff"]["name"], body["id_tag"]) == ("Public", "GUS-1")


def test_the_periods_cover_the_next_day_without_gaps(tariffs):
    body = client_for().get(QUOTE).json()
    periods = body["periods"]
    start = datetime.fromisoformat(body["quoted_at"])
    assert datetime.fromisoformat(periods[0]["start"]) == start
    assert datetime.fromisoformat(periods[-1]["end"]) == start + timedelta(hours=24)
    for before, after in zip(periods, periods[1:], strict=False):
        assert before["end"] == after["start"]
        assert before["period"] != after["period"]
    night = [p for p in periods if p["period"] == "22:00-06:00"]
    assert night and all(p["price_per_kwh"] == "0.3000" for p in night)


def test_the_estimate_equals_the_invoice_of_that_session(fleet_driver, tariffs):
    body = client_for(fleet_driver).get(QUOTE, {"energy_wh": 12_345, "minutes": 95}).json()
    at = datetime.fromisoformat(body["quoted_at"])
    started, _ = transaction_start_priced(
        charge_point_pk=ChargePoint.objects.get(charge_point_id="CP-1").pk,
        connector_id=1,
        id_tag="TAG-1",
        meter_start=0,
        timestamp=at,
    )
    Transaction.objects.filter(pk=started.pk).update(
        status=SessionStatus.ENDED,
        stop_timestamp=at + timedelta(minutes=95),
        meter_stop=12_345,
        energy_wh=12_345,
        stop_reason="Local",
    )
    invoice = invoice_create(transaction_id=started.pk)
    assert invoice.tariff_id == body["tariff"]["id"]
    estimate = body["estimate"]
    assert (estimate["energy_wh"], estimate["minutes"]) == (12_345, 95)
    assert [Decimal(estimate[key]) for key in ("net", "vat", "total")] == [
        invoice.net_total,
        invoice.vat_total,
        invoice.total,
    ]
    assert [Decimal(line["amount"]) for line in estimate["lines"]] == [
        line.amount for line in invoice.lines.order_by("id")
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"energy_wh": "-1"}, "energy_wh"),
        ({"energy_wh": "ten"}, "energy_wh"),
        ({"energy_wh": "1.5"}, "energy_wh"),
        ({"minutes": "100000"}, "minutes"),
        ({"minutes": "-5"}, "minutes"),
    ],
)
def test_bad_numbers_are_a_400_naming_the_field(tariffs, query, field):
    response = client_for().get(QUOTE, query)
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_id_tags_drivers_may_name(fleet_driver, tariffs):
    other = make_driver("hank", "HANK-1")
    assert client_for(other).get(QUOTE, {"id_tag": "hank-1"}).json()["id_tag"] == "HANK-1"
    refused = client_for(other).get(QUOTE, {"id_tag": "TAG-1"})  # fiona's fleet card
    assert refused.status_code == 400 and list(refused.json()) == ["id_tag"]
    visitor = client_for().get(QUOTE, {"id_tag": "TAG-1"})
    assert visitor.status_code == 400 and list(visitor.json()) == ["id_tag"]
    operator = client_for(make_operator()).get(QUOTE, {"id_tag": "TAG-1"}).json()
    assert operator["tariff"]["name"] == "Fleet"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/charge-points/NOPE/connectors/1/quote/",
        "/api/v1/charge-points/CP-1/connectors/7/quote/",
        "/api/v1/charge-points/CP-1/connectors/x/quote/",
        "/api/v1/charge-points/CP-1/connectors/0/quote/",
    ],
)
def test_unknown_charge_points_and_connectors_are_404_for_everyone(fleet_driver, path):
    for client in (client_for(), client_for(fleet_driver)):
        response = client.get(path)
        assert response.status_code == 404
        assert "detail" in response.json()


def test_a_charge_point_of_an_unpublished_station_is_404_except_for_operators(
    fleet_driver, station
):
    Station.objects.filter(pk=station.pk).update(publish=False)
    assert client_for().get(QUOTE).status_code == 404
    assert client_for(fleet_driver).get(QUOTE).status_code == 404
    assert client_for(make_operator()).get(QUOTE).status_code == 200


def test_a_charge_point_not_in_service_is_404_except_for_operators(fleet_driver):
    ChargePoint.objects.filter(charge_point_id="CP-1").update(
        registration_status=RegistrationStatus.PENDING
    )
    assert client_for().get(QUOTE).status_code == 404
    assert client_for(fleet_driver).get(QUOTE).status_code == 404
    assert client_for(make_operator()).get(QUOTE).status_code == 200


def test_visitors_follow_the_anonymous_map_switch(tariffs, settings):
    settings.API_ANONYMOUS_MAP = False
    assert client_for().get(QUOTE).status_code == 401
    assert client_for(make_driver("ida", "IDA-1")).get(QUOTE).status_code == 200


def test_no_tariff_answers_with_no_prices(charge_point):
    charge_point.connectors.create(connector_id=1)
    Tariff.objects.all().delete()
    body = client_for().get(QUOTE, {"energy_wh": 1000}).json()
    assert body["tariff"] is None and body["estimate"] is None and body["periods"] == []


def test_a_driver_s_tariff_list_leaves_out_what_cannot_apply_to_them(
    fleet_driver, tariffs, charge_point
):
    now = timezone.now()
    pending = ChargePoint.objects.create(
        charge_point_id="CP-PENDING", registration_status=RegistrationStatus.PENDING
    )
    Tariff.objects.create(name="pending charge point", charge_point=pending)
    Tariff.objects.create(
        name="from tomorrow", charge_point=charge_point, valid_from=now + timedelta(days=1)
    )
    Tariff.objects.create(
        name="ended", charge_point=charge_point, valid_until=now - timedelta(days=1)
    )
    Tariff.objects.create(name="another group", tag_group=TagGroup.objects.create(name="Staff"))
    response = client_for(fleet_driver).get("/api/v1/tariffs/")
    assert {t["name"] for t in response.json()["results"]} == {"Public", "Fleet", "from tomorrow"}


def test_a_driver_s_quote_costs_the_same_queries_however_many_tags(fleet_driver, tariffs):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(fleet_driver)
    client.get(QUOTE)  # the token's first use may write
    with CaptureQueriesContext(connection) as one_tag:
        assert client.get(QUOTE).json()["tariff"]["name"] == "Fleet"
    for number in range(8):
        IdTag.objects.create(id_tag=f"FIONA-{number}", driver=fleet_driver.driver)
    with CaptureQueriesContext(connection) as nine_tags:
        body = client.get(QUOTE, {"energy_wh": 5000, "minutes": 30}).json()
    assert (body["tariff"]["name"], body["id_tag"]) == ("Fleet", "TAG-1")
    assert len(nine_tags) == len(one_tag) <= 8

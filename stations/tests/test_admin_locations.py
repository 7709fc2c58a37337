"""The console edits a station's location data and a connector's plug."""

import json

import pytest
from django.urls import reverse

from api_support.testing import make_charge_point
from stations.models import Connector, Station

pytestmark = pytest.mark.django_db


def station_form(**overrides) -> dict:
    data = {
        "name": "Market Square",
        "address": "",
        "city": "",
        "postal_code": "",
        "country": "",
        "latitude": "",
        "longitude": "",
        "time_zone": "UTC",
        "publish": "on",
        "opening_times": "",
        "charging_when_closed": "on",
        "parking_type": "",
        "directions": "",
        "images": "[]",
        "operator_name": "",
        "operator_website": "",
        "operator_phone": "",
        "operator_email": "",
        "party_country_code": "",
        "party_id": "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_station_page_shows_the_location_fields(admin_client):
    station = Station.objects.create(name="S")
    page = admin_client.get(reverse("admin:stations_station_change", args=[station.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    for field in ("opening_times", "facilities", "parking_type", "party_id", "operator_phone"):
        assert f'name="{field}"' in html
    assert "twentyfourseven" in html  # the help text shows the format


def test_bad_opening_times_are_shown_on_the_field(admin_client):
    hours = {
        "twentyfourseven": False,
        "regular_hours": [{"weekday": 1, "period_begin": "20:00", "period_end": "08:00"}],
    }
    response = admin_client.post(
        reverse("admin:stations_station_add"),
        station_form(opening_times=json.dumps(hours), party_id="ABC"),
    )
    assert response.status_code == 200  # the form again, with its errors
    errors = response.context["adminform"].form.errors
    assert "regular_hours[0].period_end" in str(errors["opening_times"])
    assert "party_country_code" in errors
    assert not Station.objects.exists()


def test_good_location_data_is_saved_in_canonical_form(admin_client):
    hours = {
        "twentyfourseven": False,
        "regular_hours": [
            {"weekday": 7, "period_begin": "10:00", "period_end": "16:00"},
            {"weekday": 1, "period_begin": "08:00", "period_end": "20:00"},
        ],
    }
    response = admin_client.post(
        reverse("admin:stations_station_add"),
        station_form(
            opening_times=json.dumps(hours),
            facilities=["CAFE", "WIFI"],
            parking_type="PARKING_GARAGE",
            party_country_code="nl",
            party_id="abc",
            operator_website="example.com",
        ),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    station = Station.objects.get()
    assert [h["weekday"] for h in station.opening_times["regular_hours"]] == [1, 7]
    assert station.facilities == ["CAFE", "WIFI"]
    assert (station.party_country_code, station.party_id) == ("NL", "ABC")
    assert station.operator_website == "https://example.com"


def test_connector_plug_is_edited_and_checked(admin_client):
    connector = Connector.objects.get(charge_point=make_charge_point("CP1"))
    url = reverse("admin:stations_connector_change", args=[connector.pk])
    form = {
        "standard": "CHADEMO",
        "format": "CABLE",
        "power_type": "AC_3_PHASE",
        "max_voltage": "500",
        "max_amperage": "125",
        "max_power_w": "",
        "evse_id": "",
        "evse_connector_statuses": "{}",
    }
    refused = admin_client.post(url, form)
    assert refused.status_code == 200
    assert "power_type" in refused.context["adminform"].form.errors
    saved = admin_client.post(url, {**form, "power_type": "DC", "evse_id": "nl*abc*e1"})
    assert saved.status_code == 302
    connector.refresh_from_db()
    assert (connector.standard, connector.power_type, connector.max_voltage) == (
        "CHADEMO",
        "DC",
        500,
    )
    assert connector.evse_id == "NL*ABC*E1"

"""Locations and tariffs as a partner reads them; OCPI errors and envelopes."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from api_support.testing import make_charge_point
from billing.models import TagGroup, Tariff, TariffPeriod
from roaming.credential_tokens import authorization_header, token_hash
from roaming.models import Exchange, Party
from roaming.tasks import prune_exchanges
from stations.models import ChargePoint, Connector, Station

pytestmark = pytest.mark.django_db

LOCATIONS = "/ocpi/cpo/2.2.1/locations"
TARIFFS = "/ocpi/cpo/2.2.1/tariffs"


def site(name, **fields) -> Station:
    values = {"latitude": Decimal("52.1"), "longitude": Decimal("5.1"), "country": "NL"}
    values.update(fields)
    return Station.objects.create(name=name, address="Main 1", city="Utrecht", **values)


def get(client, auth, path, **params):
    return client.get(path, params, HTTP_AUTHORIZATION=auth)


def test_unknown_or_missing_token_is_401_with_the_envelope(client, registered_party):
    for headers in ({}, {"HTTP_AUTHORIZATION": authorization_header("nobody")}):
        response = client.get(LOCATIONS, **headers)
        assert response.status_code == 401
        body = response.json()
        assert body["status_code"] == 2000
        assert body["timestamp"].endswith("Z")
        assert "data" not in body


def test_a_token_sent_without_base64_is_accepted_as_older_peers_send_it(client, registered_party):
    response = client.get(LOCATIONS, HTTP_AUTHORIZATION="Token peer-token-c-0123456789")
    assert response.status_code == 200 and response.json()["status_code"] == 1000


def test_token_a_opens_versions_and_credentials_only(client, db):
    Party.objects.create(
        name="New", country_code="DE", party_id="NEW", role="EMSP",
        registration_token_hash=token_hash("token-a-1"),
    )  # fmt: skip
    auth = authorization_header("token-a-1")
    assert get(client, auth, "/ocpi/versions").status_code == 200
    assert get(client, auth, "/ocpi/2.2.1/credentials").json()["data"]["token"] == "token-a-1"
    assert get(client, auth, LOCATIONS).status_code == 401


def test_versions_and_details_name_our_modules(client, registered_party, settings):
    settings.OCPI_BASE_URL = "https://csms.example.com/ocpi"
    _, auth = registered_party
    versions = get(client, auth, "/ocpi/versions").json()["data"]
    assert versions == [{"version": "2.2.1", "url": "https://csms.example.com/ocpi/2.2.1"}]
    details = get(client, auth, "/ocpi/2.2.1").json()["data"]
    modules = {(e["identifier"], e["role"]): e["url"] for e in details["endpoints"]}
    assert modules[("locations", "SENDER")] == "https://csms.example.com/ocpi/cpo/2.2.1/locations"
    assert ("tariffs", "SENDER") in modules and ("credentials", "RECEIVER") in modules


def test_locations_are_paginated_with_the_ocpi_headers(client, registered_party):
    _, auth = registered_party
    stations = [site(f"S{n}") for n in range(3)]
    site("hidden", publish=False)
    site("nowhere", latitude=None, longitude=None)
    first = get(client, auth, LOCATIONS, limit=2)
    assert first["X-Total-Count"] == "3" and first["X-Limit"] == "2"
    assert first["Link"] == (
        '<http://testserver/ocpi/cpo/2.2.1/locations?offset=2&limit=2>; rel="next"'
    )
    assert [loc["id"] for loc in first.json()["data"]] == [str(s.pk) for s in stations[:2]]
    last = get(client, auth, LOCATIONS, offset=2, limit=2)
    assert [loc["id"] for loc in last.json()["data"]] == [str(stations[2].pk)]
    assert "Link" not in last


def test_the_limit_is_capped_and_bad_parameters_are_2001(client, registered_party, settings):
    settings.OCPI_PAGE_LIMIT = 2
    _, auth = registered_party
    for n in range(3):
        site(f"S{n}")
    capped = get(client, auth, LOCATIONS, limit=500)
    assert capped["X-Limit"] == "2" and len(capped.json()["data"]) == 2
    assert "limit=2" in capped["Link"]
    for params, name in (({"limit": "-1"}, "limit"), ({"date_from": "yesterday"}, "date_from")):
        response = get(client, auth, LOCATIONS, **params)
        assert response.status_code == 400
        assert response.json()["status_code"] == 2001
        assert name in response.json()["status_message"]


def test_date_filters_see_a_connector_status_change(client, registered_party):
    _, auth = registered_party
    quiet, busy = site("quiet"), site("busy")
    make_charge_point("CP-Q", station=quiet, is_online=True, connectors={1: "Available"})
    cp = make_charge_point("CP-B", station=busy, is_online=True, connectors={1: "Available"})
    earlier = timezone.now() - timedelta(hours=2)
    Station.objects.update(updated_at=earlier)
    ChargePoint.objects.update(connected_at=earlier)
    Connector.objects.update(updated_at=earlier)
    cutoff = timezone.now()  # everything above happened before it
    Connector.objects.filter(charge_point=cp).update(status="Charging", updated_at=timezone.now())
    response = get(client, auth, LOCATIONS, date_from=cutoff.isoformat())
    data = response.json()["data"]
    assert [loc["name"] for loc in data] == ["busy"]
    assert response["X-Total-Count"] == "1"
    assert data[0]["evses"][0]["status"] == "CHARGING"
    older = get(client, auth, LOCATIONS, date_to=cutoff.isoformat()).json()["data"]
    assert [loc["name"] for loc in older] == ["quiet"]


def test_a_location_its_evse_and_connector(client, registered_party):
    _, auth = registered_party
    station = site("S", party_country_code="NL", party_id="ABC", operator_name="Op")
    cp = make_charge_point("CP-1", station=station, is_online=True, connectors={1: "Faulted"})
    make_charge_point("CP-2", station=station, is_online=False, connectors={1: "Available"})
    connector = Connector.objects.get(charge_point=cp, connector_id=1)
    location = get(client, auth, f"{LOCATIONS}/{station.pk}").json()["data"]
    assert location["country"] == "NLD"
    assert (location["country_code"], location["party_id"]) == ("NL", "ABC")
    assert location["coordinates"] == {"latitude": "52.100000", "longitude": "5.100000"}
    assert location["operator"] == {"name": "Op"}
    assert [e["status"] for e in location["evses"]] == ["OUTOFORDER", "UNKNOWN"]
    assert "charge_point_id" not in location["evses"][0]
    evse = get(client, auth, f"{LOCATIONS}/{station.pk}/{connector.pk}").json()["data"]
    assert evse["evse_id"] == "NL*ABC*ECP1*1"
    plug = get(client, auth, f"{LOCATIONS}/{station.pk}/{connector.pk}/1").json()["data"]
    assert plug["id"] == "1"
    for path in (f"{LOCATIONS}/999999", f"{LOCATIONS}/{station.pk}/0", f"{LOCATIONS}/x"):
        response = get(client, auth, path)
        assert response.status_code == 404 and response.json()["status_code"] == 2003, path


def test_tariffs_in_ocpi_shape_and_connector_tariff_ids(client, registered_party):
    _, auth = registered_party
    station = site("S")
    cp = make_charge_point("CP-1", station=station, is_online=True, connectors={1: "Available"})
    default = Tariff.objects.create(name="Default", is_default=True, price_per_kwh=Decimal("0.30"))
    local = Tariff.objects.create(
        name="Here", station=station, price_per_kwh=Decimal("0.40"), price_per_minute=Decimal("0.05"),
        idle_price_per_minute=Decimal("0.10"), idle_grace_minutes=15, session_fee=Decimal("1.00"),
        min_price=Decimal("2.00"), vat_rate=Decimal("21"),
    )  # fmt: skip
    TariffPeriod.objects.create(
        tariff=local, start_time=time(22), end_time=time(6), price_per_kwh=Decimal("0.25")
    )
    staff = TagGroup.objects.create(name="staff")
    Tariff.objects.create(name="Staff", tag_group=staff, price_per_kwh=Decimal("0.01"))
    data = {t["id"]: t for t in get(client, auth, TARIFFS).json()["data"]}
    published = set(Tariff.objects.exclude(tag_group=staff).values_list("pk", flat=True))
    assert set(data) == {str(pk) for pk in published} and str(default.pk) in data
    here = data[str(local.pk)]
    assert here["currency"] == "EUR" and here["min_price"] == {"excl_vat": 2.0, "incl_vat": 2.42}
    assert here["elements"] == [
        {"price_components": [{"type": "FLAT", "price": 1.0, "vat": 21.0, "step_size": 1}]},
        {"price_components": [{"type": "PARKING_TIME", "price": 6.0, "vat": 21.0, "step_size": 1}]},
        {
            "price_components": [{"type": "ENERGY", "price": 0.25, "vat": 21.0, "step_size": 1}],
            "restrictions": {"start_time": "22:00", "end_time": "06:00"},
        },
        {
            "price_components": [
                {"type": "ENERGY", "price": 0.4, "vat": 21.0, "step_size": 1},
                {"type": "TIME", "price": 3.0, "vat": 21.0, "step_size": 1},
            ]
        },
    ]  # fmt: skip
    assert "15 minutes" in here["tariff_alt_text"][0]["text"]
    connector = Connector.objects.get(charge_point=cp, connector_id=1)
    location = get(client, auth, f"{LOCATIONS}/{station.pk}/{connector.pk}").json()["data"]
    assert location["connectors"][0]["tariff_ids"] == [str(local.pk)]


def test_a_changed_tariff_moves_its_last_updated(client, registered_party):
    _, auth = registered_party
    tariff = Tariff.objects.create(name="T", is_default=True, price_per_kwh=Decimal("0.30"))
    Tariff.objects.exclude(pk=tariff.pk).delete()
    first = get(client, auth, TARIFFS).json()["data"][0]["last_updated"]
    assert get(client, auth, TARIFFS).json()["data"][0]["last_updated"] == first
    tariff.price_per_kwh = Decimal("0.35")
    tariff.save()
    later = datetime.fromisoformat(first.replace("Z", "+00:00")) + timedelta(microseconds=1000)
    changed = get(client, auth, TARIFFS, date_from=later.astimezone(UTC).isoformat()).json()
    assert [t["elements"][0]["price_components"][0]["price"] for t in changed["data"]] == [0.35]


def test_malformed_json_is_2001_and_unknown_paths_an_ocpi_404(client, registered_party):
    _, auth = registered_party
    response = client.put(
        "/ocpi/2.2.1/credentials", "{not json", content_type="application/json",
        HTTP_AUTHORIZATION=auth,
    )  # fmt: skip
    assert response.status_code == 400 and response.json()["status_code"] == 2001
    missing = get(client, auth, "/ocpi/cpo/2.2.1/nothing")
    assert missing.status_code == 404 and missing.json()["status_code"] == 2000
    wrong_method = client.delete(LOCATIONS, HTTP_AUTHORIZATION=auth)
    assert wrong_method.status_code == 405 and wrong_method.json()["status_code"] == 2000


def test_every_exchange_is_journalled_without_tokens(client, registered_party):
    party, auth = registered_party
    get(client, auth, "/ocpi/2.2.1/credentials")
    get(client, authorization_header("intruder"), LOCATIONS)
    rows = list(Exchange.objects.order_by("id"))
    assert [(r.direction, r.party, r.method, r.http_status) for r in rows] == [
        ("in", party, "GET", 200),
        ("in", None, "GET", 401),
    ]
    assert rows[0].ocpi_status_code == 1000 and rows[1].ocpi_status_code == 2000
    assert "peer-token-c" not in rows[0].response_body and '"token": "***"' in rows[0].response_body


def test_the_journal_keeps_rows_for_the_retention_period(settings):
    settings.OCPI_JOURNAL_RETENTION_DAYS = 30
    for days in (31, 29):
        row = Exchange.objects.create(direction="in", method="GET", url=f"/{days}")
        Exchange.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(days=days))
    assert prune_exchanges.delay().get() == 1
    assert list(Exchange.objects.values_list("url", flat=True)) == ["/29"]

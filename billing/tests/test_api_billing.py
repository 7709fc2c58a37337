"""The invoices and tariffs collections, and invoice PDFs."""

from decimal import Decimal

import pytest

from api_support.testing import (
    T0,
    client_for,
    make_charge_point,
    make_driver,
    make_invoice,
    make_operator,
    make_session,
)
from billing.models import BillingFailure, Tariff
from stations.models import Station

pytestmark = pytest.mark.django_db

INVOICES = "/api/v1/invoices/"
FAILURES = "/api/v1/billing-failures/"
TARIFFS = "/api/v1/tariffs/"
TARIFF_PERMS = (
    "billing.view_tariff",
    "billing.add_tariff",
    "billing.change_tariff",
    "billing.delete_tariff",
)


@pytest.fixture
def charge_point():
    return make_charge_point("CP1", station=Station.objects.create(name="Depot"))


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


# --- invoices ---------------------------------------------------------------------


def test_anonymous_gets_401():
    assert client_for().get(INVOICES).status_code == 401
    assert client_for().get(TARIFFS).status_code == 401
    assert client_for().get("/api/v1/me/invoices/").status_code == 401


def test_staff_without_permission_gets_403(charge_point):
    invoice = make_invoice(make_session(charge_point, "TAG", energy_wh=7500))
    client = client_for(make_operator())
    assert client.get(INVOICES).status_code == 403
    assert client.get(f"{INVOICES}{invoice.pk}/pdf/").status_code == 403


def test_operator_reads_invoices_with_lines(charge_point):
    session = make_session(charge_point, "TAG", energy_wh=7500)
    invoice = make_invoice(session)
    body = client_for(make_operator("billing.view_invoice")).get(f"{INVOICES}{invoice.pk}/").json()
    assert body["transaction"] == session.pk
    assert body["number"] == invoice.number
    assert body["currency"] == "EUR"
    assert body["total"] == "3.54"
    assert body["net_total"] == "2.93"
    assert body["vat_total"] == "0.61"
    assert body["energy_wh"] == 7500
    assert body["lines"] == [
        {
            "component": "energy",
            "description": "Energy",
            "quantity": "7.5000",
            "unit": "kWh",
            "unit_price": "0.3900",
            "amount": "2.93",
        }
    ]


def test_driver_sees_only_own_invoices(charge_point):
    alice = make_driver("alice", "ALICE-1")
    make_driver("bob", "BOB-1")
    own = make_invoice(make_session(charge_point, "alice-1", energy_wh=100, link_tag=False))
    bobs = make_invoice(make_session(charge_point, "BOB-1", start=T0.replace(hour=12), energy_wh=1))
    client = client_for(alice)
    assert ids(client.get(INVOICES)) == [own.pk]
    assert ids(client.get("/api/v1/me/invoices/")) == [own.pk]
    assert client.get(f"{INVOICES}{bobs.pk}/").status_code == 404
    assert client.get(f"{INVOICES}{bobs.pk}/pdf/").status_code == 404


def test_invoice_pdf_download(charge_point):
    alice = make_driver("alice", "ALICE-1")
    invoice = make_invoice(make_session(charge_point, "ALICE-1", energy_wh=7500))
    response = client_for(alice).get(f"{INVOICES}{invoice.pk}/pdf/", HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="invoice-{invoice.number}.pdf"'
    )
    assert response.content.startswith(b"%PDF")


def test_missing_invoice_pdf_is_a_json_404_even_when_asking_for_pdf():
    client = client_for(make_operator("billing.view_invoice"))
    response = client.get(f"{INVOICES}999/pdf/", HTTP_ACCEPT="application/pdf")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


def test_invoices_are_read_only(charge_point):
    invoice = make_invoice(make_session(charge_point, "TAG", energy_wh=1))
    client = client_for(make_operator("billing.view_invoice", "billing.change_invoice"))
    assert client.patch(f"{INVOICES}{invoice.pk}/", {"total": "0"}).status_code == 405


def test_invoice_filters(charge_point):
    other = make_charge_point("CP2")
    first = make_invoice(make_session(charge_point, "TAG-1", energy_wh=1), total="5.00")
    second = make_invoice(make_session(other, "TAG-2", energy_wh=1), total="1.00")
    client = client_for(make_operator("billing.view_invoice"))
    assert ids(client.get(INVOICES, {"charge_point": "CP2"})) == [second.pk]
    assert ids(client.get(INVOICES, {"id_tag": "tag-1"})) == [first.pk]
    assert ids(client.get(INVOICES, {"transaction": first.transaction_id})) == [first.pk]
    assert ids(client.get(INVOICES, {"total__gte": "2"})) == [first.pk]
    assert ids(client.get(INVOICES, {"ordering": "total"})) == [second.pk, first.pk]


def test_invoice_list_query_count_does_not_grow_with_rows(
    charge_point, django_assert_max_num_queries
):
    for hour in range(10):
        make_invoice(make_session(charge_point, "TAG", start=T0.replace(hour=hour), energy_wh=1))
    client = client_for(make_operator("billing.view_invoice"))
    with django_assert_max_num_queries(6):
        response = client.get(INVOICES)
    assert response.json()["count"] == 10


# --- billing failures ----------------------------------------------------------------


def make_failure(
    session, *, resolved: bool = False, error: str = "No tariff applies."
) -> BillingFailure:
    return BillingFailure.objects.create(
        transaction=session,
        error=error,
        attempts=3,
        will_retry=False,
        first_failed_at=T0,
        last_failed_at=T0.replace(minute=5),
        resolved_at=T0.replace(hour=12) if resolved else None,
    )


def test_operator_reads_billing_failures(charge_point):
    session = make_session(charge_point, "TAG", energy_wh=7500)
    failure = make_failure(session)
    client = client_for(make_operator("billing.view_billingfailure"))
    assert client.get(f"{FAILURES}{failure.pk}/").json() == {
        "id": failure.pk,
        "transaction": session.pk,
        "charge_point": "CP1",
        "error": "No tariff applies.",
        "attempts": 3,
        "will_retry": False,
        "first_failed_at": "2026-11-26T10:00:00Z",
        "last_failed_at": "2026-11-26T10:05:00Z",
        "resolved_at": None,
        "is_resolved": False,
    }


def test_billing_failures_are_for_operators_with_the_view_permission(charge_point):
    alice = make_driver("alice", "ALICE-1")
    failure = make_failure(make_session(charge_point, "ALICE-1", energy_wh=10))
    assert client_for().get(FAILURES).status_code == 401
    assert client_for(alice).get(FAILURES).status_code == 403
    assert client_for(alice).get(f"{FAILURES}{failure.pk}/").status_code == 403
    assert client_for(make_operator("billing.view_invoice")).get(FAILURES).status_code == 403


def test_billing_failures_are_read_only(charge_point):
    failure = make_failure(make_session(charge_point, "TAG", energy_wh=10))
    perms = ("billing.view_billingfailure", "billing.change_billingfailure")
    client = client_for(make_operator(*perms))
    assert client.patch(f"{FAILURES}{failure.pk}/", {"error": ""}).status_code == 405
    assert client.post(FAILURES, {}, format="json").status_code == 405


def test_billing_failure_filters_and_pages(charge_point):
    open_one = make_failure(make_session(charge_point, "TAG", energy_wh=10))
    fixed = make_failure(
        make_session(charge_point, "TAG", energy_wh=10, start=T0.replace(hour=8)), resolved=True
    )
    client = client_for(make_operator("billing.view_billingfailure"))
    assert ids(client.get(FAILURES, {"resolved": "false"})) == [open_one.pk]
    assert ids(client.get(FAILURES, {"resolved": "true"})) == [fixed.pk]
    assert ids(client.get(FAILURES, {"transaction": fixed.transaction_id})) == [fixed.pk]
    assert sorted(ids(client.get(FAILURES))) == sorted([open_one.pk, fixed.pk])
    page = client.get(FAILURES, {"page_size": 1}).json()
    assert page["count"] == 2 and len(page["results"]) == 1 and page["next"]


def test_billing_failure_list_query_count_does_not_grow_with_rows(
    charge_point, django_assert_max_num_queries
):
    for hour in range(10):
        make_failure(make_session(charge_point, "TAG", start=T0.replace(hour=hour), energy_wh=1))
    client = client_for(make_operator("billing.view_billingfailure"))
    with django_assert_max_num_queries(5):
        response = client.get(FAILURES)
    assert response.json()["count"] == 10


# --- tariffs ------------------------------------------------------------------------


def test_tariff_shows_every_model_field():
    tariff = Tariff.objects.create(name="Peak", price_per_kwh=Decimal("0.45"))
    body = client_for(make_operator("billing.view_tariff")).get(f"{TARIFFS}{tariff.pk}/").json()
    model_fields = {field.name for field in Tariff._meta.concrete_fields}
    assert model_fields <= set(body)
    assert body["price_per_kwh"] == "0.4500"
    assert body["periods"] == []


def test_operator_creates_a_charge_point_tariff(charge_point):
    client = client_for(make_operator(*TARIFF_PERMS))
    response = client.post(
        TARIFFS,
        {
            "name": "Fast",
            "currency": "eur",
            "price_per_kwh": "0.59",
            "vat_rate": "21",
            "charge_point": "CP1",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    tariff = Tariff.objects.get(name="Fast")
    assert tariff.charge_point == charge_point
    assert tariff.currency == "EUR"
    assert response.json()["charge_point"] == "CP1"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "T", "price_per_kwh": "-1"}, "price_per_kwh"),
        ({"name": "T", "currency": "EURO"}, "currency"),
        ({"name": "T", "charge_point": "NOPE"}, "charge_point"),
    ],
)
def test_invalid_tariff_body_names_the_field(body, field):
    response = client_for(make_operator(*TARIFF_PERMS)).post(TARIFFS, body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_model_rules_apply_to_tariffs(charge_point):
    client = client_for(make_operator(*TARIFF_PERMS))
    window = client.post(
        TARIFFS,
        {
            "name": "T",
            "valid_from": "2027-01-02T00:00:00Z",
            "valid_until": "2027-01-01T00:00:00Z",
        },
        format="json",
    )
    assert window.status_code == 400
    scoped_default = client.post(
        TARIFFS, {"name": "T", "is_default": True, "charge_point": "CP1"}, format="json"
    )
    assert scoped_default.status_code == 400
    assert not Tariff.objects.filter(name="T").exists()


def test_driver_reads_tariffs_but_cannot_write():
    tariff = Tariff.objects.create(name="Peak", is_default=True)  # one that applies to them
    client = client_for(make_driver("alice"))
    assert client.get(f"{TARIFFS}{tariff.pk}/").status_code == 200
    assert client.post(TARIFFS, {"name": "Free"}, format="json").status_code == 403
    assert client.delete(f"{TARIFFS}{tariff.pk}/").status_code == 403
    assert Tariff.objects.filter(pk=tariff.pk).exists()


def test_deleting_a_billed_tariff_answers_409(charge_point):
    tariff = Tariff.objects.create(name="Used")
    invoice = make_invoice(make_session(charge_point, "TAG", energy_wh=1))
    invoice.tariff = tariff
    invoice.save()
    response = client_for(make_operator(*TARIFF_PERMS)).delete(f"{TARIFFS}{tariff.pk}/")
    assert response.status_code == 409
    assert Tariff.objects.filter(pk=tariff.pk).exists()


def test_tariff_filters(charge_point):
    Tariff.objects.all().delete()
    station_tariff = Tariff.objects.create(name="Station", station=charge_point.station)
    cp_tariff = Tariff.objects.create(name="CP", charge_point=charge_point)
    expired = Tariff.objects.create(name="Old", valid_until=T0)
    client = client_for(make_operator("billing.view_tariff"))
    assert ids(client.get(TARIFFS, {"charge_point": "CP1"})) == [cp_tariff.pk]
    assert ids(client.get(TARIFFS, {"station": charge_point.station_id})) == [station_tariff.pk]
    in_force = ids(client.get(TARIFFS, {"valid_at": "2027-01-01T00:00:00Z"}))
    assert expired.pk not in in_force
    assert sorted(in_force) == sorted([station_tariff.pk, cp_tariff.pk])


def test_tariff_list_query_count_does_not_grow_with_rows(
    charge_point, django_assert_max_num_queries
):
    for number in range(10):
        Tariff.objects.create(name=f"T{number}", charge_point=charge_point)
    client = client_for(make_operator("billing.view_tariff"))
    with django_assert_max_num_queries(6):
        response = client.get(TARIFFS)
    assert response.json()["count"] >= 10

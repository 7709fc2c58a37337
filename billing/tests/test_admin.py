import csv
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import BytesIO

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pypdf import PdfReader

from billing.models import (
    BillingFailure,
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    StationEnergyHour,
    TagGroup,
    Tariff,
)
from billing.services import billing_failure_record
from drivers.models import IdTag, User
from stations.choices import SessionStatus
from stations.models import ChargePoint, Connector, Station, Transaction

START = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def _url(model, view, *args):
    return reverse(f"admin:billing_{model._meta.model_name}_{view}", args=args)


def _make_invoice(number, *, charge_point_id="CP-BILL", id_tag="PAYER"):
    cp, _ = ChargePoint.objects.get_or_create(charge_point_id=charge_point_id)
    connector, _ = Connector.objects.get_or_create(charge_point=cp, connector_id=1)
    session = Transaction.objects.create(
        charge_point=cp,
        connector=connector,
        id_tag=id_tag,
        status=SessionStatus.ENDED,
        meter_start=0,
        start_timestamp=START + timedelta(minutes=number),
        meter_stop=10000,
        stop_timestamp=START + timedelta(minutes=number, hours=1),
        energy_wh=10000,
    )
    invoice = Invoice.objects.create(
        number=f"2024-{number:06d}",
        transaction=session,
        currency="EUR",
        energy_wh=10000,
        net_total=Decimal("3.00"),
        vat_total=Decimal("0.57"),
        total=Decimal("3.57"),
    )
    InvoiceLine.objects.create(
        invoice=invoice,
        component="energy",
        description="Energy delivered",
        quantity=Decimal("10.0000"),
        unit="kWh",
        unit_price=Decimal("0.3000"),
        amount=Decimal("3.00"),
    )
    return invoice


@pytest.fixture
def invoice():
    return _make_invoice(1)


@pytest.fixture
def tariff():
    station = Station.objects.create(name="Depot South")
    return Tariff.objects.create(
        name="Night rate", price_per_kwh=Decimal("0.3000"), vat_rate=Decimal("19"), station=station
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (Tariff, "Night rate"),
        (Invoice, "2024-000001"),
        (InvoiceLine, "Energy delivered"),
        (InvoiceSequence, "2024"),
    ],
)
def test_changelist_and_change_page_render(admin_client, invoice, tariff, model, expected):
    sequence = InvoiceSequence.objects.create(year=2024, last_number=1)
    response = admin_client.get(_url(model, "changelist"))
    assert response.status_code == 200
    assert expected in response.text

    obj = {
        Tariff: tariff,
        Invoice: invoice,
        InvoiceLine: invoice.lines.get(),
        InvoiceSequence: sequence,
    }[model]
    response = admin_client.get(_url(model, "change", obj.pk))
    assert response.status_code == 200
    assert expected in response.text


@pytest.mark.django_db
def test_invoice_columns_and_lines(admin_client, invoice):
    transaction_url = reverse("admin:stations_transaction_change", args=[invoice.transaction_id])
    response = admin_client.get(_url(Invoice, "changelist"))
    assert transaction_url in response.text
    assert "3.57" in response.text
    assert "CP-BILL" in response.text

    response = admin_client.get(_url(Invoice, "change", invoice.pk))
    assert transaction_url in response.text
    assert "Energy delivered" in response.text  # the line, shown inline
    assert "10.000" in response.text  # energy in kWh


@pytest.mark.django_db
def test_invoice_search(admin_client):
    first = _make_invoice(1, charge_point_id="CP-ONE", id_tag="ALICE")
    second = _make_invoice(2, charge_point_id="CP-TWO", id_tag="BOB")
    url = _url(Invoice, "changelist")

    def found(term):
        return {i.pk for i in admin_client.get(url, {"q": term}).context["cl"].result_list}

    assert found("2024-000002") == {second.pk}
    assert found(str(first.transaction_id)) == {first.pk}
    assert found("alice") == {first.pk}
    assert found("cp-two") == {second.pk}
    assert found("nothing") == set()


@pytest.mark.django_db
def test_tariff_search(admin_client, tariff):
    url = _url(Tariff, "changelist")
    assert admin_client.get(url, {"q": "night"}).context["cl"].result_count == 1
    assert admin_client.get(url, {"q": "south"}).context["cl"].result_count == 1
    assert admin_client.get(url, {"q": "day"}).context["cl"].result_count == 0


@pytest.mark.django_db
@pytest.mark.parametrize("model", [Invoice, InvoiceLine, InvoiceSequence])
def test_issued_records_are_read_only(admin_client, invoice, model):
    InvoiceSequence.objects.create(year=2024, last_number=1)
    obj = model.objects.get()
    assert admin_client.get(_url(model, "add")).status_code == 403
    assert admin_client.post(_url(model, "change", obj.pk), {}).status_code == 403
    assert admin_client.post(_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=obj.pk).exists()


@pytest.mark.django_db
def test_invoice_changelist_queries_do_not_grow_with_rows(admin_client, invoice):
    def count():
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(_url(Invoice, "changelist")).status_code == 200
        return len(queries)

    few = count()
    for number in range(2, 6):
        _make_invoice(number, charge_point_id=f"CP-{number}")
    assert count() == few


@pytest.mark.django_db
def test_tariff_add_page_renders(admin_client):
    assert admin_client.get(_url(Tariff, "add")).status_code == 200


# --- PDF, CSV export, failures, tariffs with periods ---------------------------


@pytest.mark.django_db
def test_pdf_download_from_the_change_page(admin_client, invoice):
    page = admin_client.get(_url(Invoice, "change", invoice.pk))
    pdf_url = reverse("admin:billing_invoice_pdf", args=[invoice.pk])
    assert pdf_url in page.text
    response = admin_client.get(pdf_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "invoice-2024-000001.pdf" in response["Content-Disposition"]
    assert "3.57 EUR" in _pdf_text(response.content)


@pytest.mark.django_db
def test_pdf_action_needs_exactly_one_invoice(admin_client, invoice):
    other = _make_invoice(2, charge_point_id="CP-2")
    url = _url(Invoice, "changelist")
    response = admin_client.post(url, {"action": "download_pdf", "_selected_action": [invoice.pk]})
    assert response["Content-Type"] == "application/pdf"
    response = admin_client.post(
        url, {"action": "download_pdf", "_selected_action": [invoice.pk, other.pk]}, follow=True
    )
    assert response["Content-Type"].startswith("text/html")
    assert "Select exactly one invoice." in response.text


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(body.splitlines()))


@pytest.mark.django_db
def test_export_page_and_csv_files(admin_client, invoice):
    url = reverse("admin:billing_invoice_export")
    assert url in admin_client.get(_url(Invoice, "changelist")).text  # the button
    page = admin_client.get(url)
    assert page.status_code == 200
    assert 'name="date_from"' in page.text

    station = Station.objects.create(name="Depot")
    ChargePoint.objects.filter(charge_point_id="CP-BILL").update(station=station)
    _make_invoice(2, charge_point_id="CP-ELSEWHERE", id_tag="=HYPERLINK(1)")
    today = invoice.issued_at.date().isoformat()

    response = admin_client.get(
        url, {"kind": "invoices", "date_from": today, "date_to": today, "station": station.pk}
    )
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="invoices-{today}-{today}.csv"' in response["Content-Disposition"]
    rows = _csv(response)
    assert rows[0][:3] == ["number", "issued_at", "transaction"]
    assert [row[0] for row in rows[1:]] == ["2024-000001"]
    assert rows[1][-1] == "3.57"

    rows = _csv(admin_client.get(url, {"kind": "transactions"}))
    assert [row[4] for row in rows[1:]] == ["PAYER", "'=HYPERLINK(1)"]  # defused formula

    yesterday = (invoice.issued_at.date() - timedelta(days=1)).isoformat()
    rows = _csv(admin_client.get(url, {"kind": "invoices", "date_to": yesterday}))
    assert rows[1:] == []


@pytest.mark.django_db
def test_export_rejects_a_reversed_range(admin_client):
    response = admin_client.get(
        reverse("admin:billing_invoice_export"),
        {"kind": "invoices", "date_from": "2024-05-02", "date_to": "2024-05-01"},
    )
    assert response.status_code == 200
    assert "The end date is before the start date." in response.text


@pytest.mark.django_db
def test_export_of_sessions_needs_their_view_permission(client, invoice):
    clerk = User.objects.create_user("clerk", password="x", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_invoice"))
    client.force_login(clerk)
    url = reverse("admin:billing_invoice_export")
    assert client.get(url, {"kind": "invoices"}).status_code == 200
    assert client.get(url, {"kind": "transactions"}).status_code == 403


@pytest.mark.django_db
def test_failures_are_listed_and_retried(admin_client, django_capture_on_commit_callbacks):
    Tariff.objects.filter(is_default=True).delete()
    cp = ChargePoint.objects.create(charge_point_id="CP-FAIL")
    session = Transaction.objects.create(
        charge_point=cp,
        connector=Connector.objects.create(charge_point=cp, connector_id=1),
        id_tag="X",
        status=SessionStatus.ENDED,
        meter_start=0,
        start_timestamp=START,
        meter_stop=1000,
        stop_timestamp=START + timedelta(hours=1),
        energy_wh=1000,
    )
    billing_failure_record(transaction_id=session.pk, error="No tariff applies.", will_retry=False)
    url = _url(BillingFailure, "changelist")
    page = admin_client.get(url)
    assert "No tariff applies." in page.text
    assert reverse("admin:stations_transaction_change", args=[session.pk]) in page.text

    Tariff.objects.create(name="Fix", charge_point=cp, price_per_kwh=Decimal("1"))
    failure = BillingFailure.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            url, {"action": "retry_invoicing", "_selected_action": [failure.pk]}, follow=True
        )
    assert "Invoicing of 1 session queued." in response.text
    assert Invoice.objects.get(transaction=session).total == Decimal("1.00")
    failure.refresh_from_db()
    assert failure.resolved_at is not None


def _tariff_form(**overrides):
    data = {
        "name": "Night",
        "currency": "EUR",
        "vat_rate": "19",
        "price_per_kwh": "0.40",
        "price_per_minute": "0",
        "session_fee": "0",
        "idle_price_per_minute": "0.10",
        "idle_grace_minutes": "15",
        "idle_power_threshold_w": "100",
        "priority": "0",
        "periods-TOTAL_FORMS": "2",
        "periods-INITIAL_FORMS": "0",
        "periods-0-start_time": "22:00",
        "periods-0-end_time": "06:00",
        "periods-0-price_per_kwh": "0.25",
        "periods-1-start_time": "12:00",
        "periods-1-end_time": "13:00",
        "periods-1-price_per_minute": "0.01",
    }
    return data | overrides


@pytest.mark.django_db
def test_tariff_with_periods_is_added_from_the_admin(admin_client):
    station = Station.objects.create(name="Depot")
    response = admin_client.post(_url(Tariff, "add"), _tariff_form(station=station.pk))
    assert response.status_code == 302, response.context["errors"]
    tariff = Tariff.objects.get(name="Night")
    assert tariff.station == station
    assert tariff.idle_price_per_minute == Decimal("0.10")
    assert [str(period) for period in tariff.periods.all()] == ["12:00-13:00", "22:00-06:00"]


@pytest.mark.django_db
def test_overlapping_periods_are_refused(admin_client):
    response = admin_client.post(
        _url(Tariff, "add"), _tariff_form(**{"periods-1-start_time": "05:00"})
    )
    assert response.status_code == 200
    assert "must not overlap" in response.text
    assert not Tariff.objects.filter(name="Night").exists()


@pytest.mark.django_db
def test_default_tariff_with_a_scope_is_refused(admin_client):
    station = Station.objects.create(name="Depot")
    response = admin_client.post(
        _url(Tariff, "add"), _tariff_form(is_default="on", station=station.pk)
    )
    assert response.status_code == 200
    assert "A default tariff applies everywhere" in response.text


@pytest.mark.django_db
def test_new_pages_render(admin_client):
    group = TagGroup.objects.create(name="Employees")
    group.id_tags.add(IdTag.objects.create(id_tag="STAFF-1"))
    StationEnergyHour.objects.create(
        station=Station.objects.create(name="Depot"), hour=START, energy_wh=12_345, session_count=2
    )
    assert "Employees" in admin_client.get(_url(TagGroup, "changelist")).text
    assert "STAFF-1" in admin_client.get(_url(TagGroup, "change", group.pk)).text
    assert "12.345" in admin_client.get(_url(StationEnergyHour, "changelist")).text

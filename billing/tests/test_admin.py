from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.models import Invoice, InvoiceLine, InvoiceSequence, Tariff
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

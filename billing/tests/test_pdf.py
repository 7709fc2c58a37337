"""The invoice PDF opens and says what the invoice says (its text, extracted)."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from io import BytesIO

import pytest
from pypdf import PdfReader

from billing.models import Invoice, Tariff, TariffPeriod
from billing.pdf import invoice_pdf_bytes
from billing.services import invoice_create
from drivers.models import Driver, IdTag, User
from stations.choices import SessionStatus
from stations.models import ChargePoint, Connector, Station, Transaction

pytestmark = pytest.mark.django_db

START = datetime(2024, 5, 1, 19, 30, tzinfo=UTC)  # 21:30 in Berlin (CEST)


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)


@pytest.fixture
def invoice(settings):
    settings.BILLING_OPERATOR_NAME = "Volt & Co <Charging>"
    settings.BILLING_OPERATOR_ADDRESS = "1 Grid Road\n10115 Berlin"
    settings.BILLING_OPERATOR_VAT_ID = "DE123456789"
    user = User.objects.create_user(
        "alice", email="alice@example.com", first_name="Alice", last_name="Driver"
    )
    tag = IdTag.objects.create(id_tag="ALICE-1", driver=Driver.objects.create(user=user))
    station = Station.objects.create(
        name="Depot North",
        address="5 Harbour Street",
        postal_code="20457",
        city="Hamburg",
        country="DE",
        time_zone="Europe/Berlin",
    )
    charge_point = ChargePoint.objects.create(charge_point_id="CP-PDF", station=station)
    tariff = Tariff.objects.create(
        name="Depot night",
        station=station,
        price_per_kwh=Decimal("0.40"),
        session_fee=Decimal("1.00"),
        vat_rate=Decimal("19"),
    )
    TariffPeriod.objects.create(
        tariff=tariff, start_time=time(22), end_time=time(6), price_per_kwh=Decimal("0.25")
    )
    session = Transaction.objects.create(
        charge_point=charge_point,
        connector=Connector.objects.create(charge_point=charge_point, connector_id=2),
        id_tag="ALICE-1",
        tag=tag,
        status=SessionStatus.ENDED,
        meter_start=0,
        start_timestamp=START,
        meter_stop=12_500,
        stop_timestamp=START + timedelta(hours=1),
        energy_wh=12_500,
        energy_source="meter_stop",
    )
    return invoice_create(transaction_id=session.pk)


def test_pdf_contains_the_invoice(invoice):
    # 21:30-22:00 CEST: 6.25 kWh x 0.40 = 2.50; 22:00-22:30: 6.25 x 0.25 = 1.5625 -> 1.56;
    # + 1.00 fee = 5.06 net; VAT 0.9614 -> 0.96; 6.02 gross
    assert (invoice.net_total, invoice.vat_total, invoice.total) == (
        Decimal("5.06"),
        Decimal("0.96"),
        Decimal("6.02"),
    )
    data = invoice_pdf_bytes(invoice)
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    for expected in [
        f"Invoice {invoice.number}",
        "Volt & Co <Charging>",
        "1 Grid Road",
        "10115 Berlin",
        "VAT ID: DE123456789",
        "Alice Driver",
        "alice@example.com",
        "Id tag: ALICE-1",
        "Depot North",
        "5 Harbour Street",
        "20457 Hamburg",
        "Charge point CP-PDF, connector 2",
        "2024-05-01 21:30 CEST",  # times in the station's zone
        "2024-05-01 22:30 CEST",
        "12.5 kWh",
        "Energy 22:00-06:00",
        "Session fee",
        "5.06 EUR",
        "VAT 19.00 %",
        "0.96 EUR",
        "6.02 EUR",
    ]:
        assert expected in text, expected


def test_pdf_without_station_or_driver(invoice):
    Transaction.objects.filter(pk=invoice.transaction_id).update(tag=None)
    ChargePoint.objects.update(station=None)
    invoice = Invoice.objects.get(pk=invoice.pk)
    text = pdf_text(invoice_pdf_bytes(invoice))
    assert "Alice" not in text
    assert "Depot North" not in text
    assert "2024-05-01 19:30 UTC" in text
    assert "6.02 EUR" in text

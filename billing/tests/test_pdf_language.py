"""The invoice PDF speaks its reader's language, in fonts that have Thai glyphs.

Checked on the PDF itself: its text as a reader's tool extracts it, and the
fonts it embeds.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import BytesIO

import pytest
from django.urls import reverse
from django.utils import translation
from pypdf import PdfReader

from api_support.testing import client_for
from billing import pdf
from billing.models import Invoice, InvoiceLine, Tariff
from billing.pdf import invoice_pdf_bytes
from billing.pdf_fonts import FALLBACK, PRIMARY, covered, markup
from billing.services import invoice_create
from drivers.models import Driver, IdTag, User
from stations.choices import SessionStatus
from stations.models import ChargePoint, Connector, Station, Transaction

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _language_restored():
    """LocaleMiddleware leaves a request's language active in the thread: undo it."""
    language = translation.get_language()
    yield
    translation.activate(language)


START = datetime(2024, 5, 1, 3, 0, tzinfo=UTC)  # 10:00 in Bangkok
MINUS_TH = "ลบ"  # the energy source "meterStop minus meterStart", in Thai
STATION_TH = "สถานีชาร์จบางนา ที่จอดรถชั้น ๒"


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)


def embedded_fonts(data: bytes) -> set[str]:
    """The base names of the embedded fonts (subset prefixes removed).

    reportlab lists Helvetica in every page's resources (its starting font);
    text in it would not extract as Thai.
    """
    names = set()
    for page in PdfReader(BytesIO(data)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            if "/FontDescriptor" in font and "/FontFile2" in font["/FontDescriptor"]:
                names.add(str(font["/BaseFont"]).lstrip("/").split("+")[-1])
    return names


@pytest.fixture
def invoice(settings):
    settings.BILLING_OPERATOR_NAME = "บริษัท โวลต์ จำกัด"
    settings.BILLING_OPERATOR_ADDRESS = "99 ถนนสุขุมวิท\n10260 กรุงเทพมหานคร"
    settings.BILLING_OPERATOR_VAT_ID = "0105556000000"
    user = User.objects.create_user(
        "somchai", email="somchai@example.com", first_name="สมชาย", last_name="ใจดี"
    )
    tag = IdTag.objects.create(id_tag="SOMCHAI-1", driver=Driver.objects.create(user=user))
    station = Station.objects.create(
        name=STATION_TH, city="Bangkok", country="TH", time_zone="Asia/Bangkok"
    )
    charge_point = ChargePoint.objects.create(charge_point_id="CP-TH", station=station)
    Tariff.objects.create(
        name="ราคาปกติ",
        station=station,
        currency="THB",
        price_per_kwh=Decimal("7.50"),
        vat_rate=Decimal("7"),
    )
    session = Transaction.objects.create(
        charge_point=charge_point,
        connector=Connector.objects.create(charge_point=charge_point, connector_id=1),
        id_tag="SOMCHAI-1",
        tag=tag,
        status=SessionStatus.ENDED,
        meter_start=0,
        start_timestamp=START,
        meter_stop=20_000,
        stop_timestamp=START + timedelta(hours=1),
        energy_wh=20_000,
        energy_source="meter_stop",
    )
    return invoice_create(transaction_id=session.pk)


def test_thai_pdf_extracts_as_thai_in_embedded_thai_fonts(invoice):
    data = invoice_pdf_bytes(invoice, language="th")
    text = pdf_text(data)
    for expected in [
        f"meterStop {MINUS_TH} meterStart",
        STATION_TH,
        "บริษัท โวลต์ จำกัด",
        "99 ถนนสุขุมวิท",
        "สมชาย ใจดี",
        "ราคาปกติ",
        "2024-05-01 10:00 +07",  # Gregorian, in the station's zone
        "150.00 THB",
    ]:
        assert expected in text, expected
    thai = {char for char in text if "\u0e00" <= char <= "\u0e7f"}
    assert thai and covered("".join(thai))
    assert embedded_fonts(data) == {"Laksaman", "Laksaman-Bold"}
    assert PdfReader(BytesIO(data)).trailer["/Root"]["/Lang"] == "th"


def test_english_pdf_uses_the_same_fonts(invoice):
    data = invoice_pdf_bytes(invoice, language="en")
    text = pdf_text(data)
    assert "meterStop minus meterStart" in text
    assert STATION_TH in text  # Thai names print in an English PDF too
    assert embedded_fonts(data) == {"Laksaman", "Laksaman-Bold"}


def test_every_label_is_translated(invoice, monkeypatch):
    """With a catalog that brackets every string, no label stays untranslated."""
    monkeypatch.setattr(pdf, "_", lambda text: f"[{text}]")
    monkeypatch.setattr(pdf, "pgettext", lambda context, text: f"[{text}]")
    # Compared without white space: a bracketed label is wider and may wrap.
    text = "".join(pdf_text(invoice_pdf_bytes(invoice)).split())
    for label in [
        f"[Invoice {invoice.number}]",
        "[VAT ID: 0105556000000]",
        "[Issued: ",
        "[Billed to:]",
        "[Id tag: SOMCHAI-1]",
        "[Charging site:]",
        "[Charge point CP-TH, connector 1]",
        "[Session]",
        "[Start]",
        "[Stop]",
        "[Energy measured by]",
        "[Tariff]",
        "[Description]",
        "[Quantity]",
        "[Unit]",
        "[Unit price]",
        "[Amount]",
        "[Energy]",  # the invoice line, stored in English
        "[Net total]",
        "[VAT 7.00 %]",
        "[Total]",
        "[Prices are net; VAT is shown separately.]",
    ]:
        assert "".join(label.split()) in text, label


def test_line_descriptions_follow_the_reader(invoice):
    InvoiceLine.objects.create(
        invoice=invoice,
        component="idle",
        description="Idle fee (after 5 min grace)",
        quantity=Decimal("12"),
        unit="min",
        unit_price=Decimal("2"),
        amount=Decimal("24"),
    )
    InvoiceLine.objects.create(
        invoice=invoice,
        component="energy",
        description="Older wording",
        quantity=Decimal("1"),
        unit="kWh",
        unit_price=Decimal("0"),
        amount=Decimal("0"),
    )
    invoice = Invoice.objects.get(pk=invoice.pk)
    # Compared without white space: a description may wrap in its column.
    english = "".join(pdf_text(invoice_pdf_bytes(invoice, language="en")).split())
    assert "Idlefee(after5mingrace)" in english
    assert "Olderwording" in english
    thai = "".join(pdf_text(invoice_pdf_bytes(invoice, language="th")).split())
    assert "ค่าจอดแช่" in thai  # "Idle fee" in the Thai catalog
    assert "Idlefee" not in thai
    assert "Olderwording" in thai


def test_latin_beyond_the_thai_font_falls_back_per_run(invoice):
    Station.objects.update(name="Nádraží Dvořákova ť")
    invoice = Invoice.objects.get(pk=invoice.pk)
    data = invoice_pdf_bytes(invoice, language="en")
    assert "Nádraží Dvořákova ť" in pdf_text(data)
    assert embedded_fonts(data) >= {"Laksaman", "Sarabun-Regular"}
    assert markup("Dvořák") == f'Dvo<font face="{FALLBACK.regular}">ř</font>ák'
    assert markup("a < b & ก") == "a &lt; b &amp; ก"
    assert PRIMARY.regular != FALLBACK.regular


def test_api_pdf_in_the_requests_language(invoice):
    client = client_for(invoice.transaction.tag.driver.user)
    url = f"/api/v1/invoices/{invoice.pk}/pdf/"
    thai = client.get(url, HTTP_ACCEPT="application/pdf", HTTP_ACCEPT_LANGUAGE="th")
    assert thai.status_code == 200
    assert f"meterStop {MINUS_TH} meterStart" in pdf_text(thai.content)
    english = client.get(url, HTTP_ACCEPT="application/pdf", HTTP_ACCEPT_LANGUAGE="en")
    assert "meterStop minus meterStart" in pdf_text(english.content)


def test_console_pdf_in_the_operators_language(invoice, admin_client, settings):
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "th"
    response = admin_client.get(reverse("admin:billing_invoice_pdf", args=[invoice.pk]))
    assert response.status_code == 200
    assert f"meterStop {MINUS_TH} meterStart" in pdf_text(response.content)

"""The invoice as a PDF document, rendered with reportlab.

`invoice_pdf_bytes` is all the admin and the API need; it reads the invoice's
own figures (never recomputes them), and prints session times in the
station's time zone, as the driver saw them on site.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from io import BytesIO
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from .models import Invoice

_STYLES = getSampleStyleSheet()
_BODY = _STYLES["BodyText"]
_RIGHT = ParagraphStyle("right", parent=_BODY, alignment=TA_RIGHT)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _when(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if moment else "-"


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:,f} {currency}"


def _paragraphs(lines: list[str], style=_BODY) -> list[Paragraph]:
    return [Paragraph(escape(line), style) for line in lines if line]


def _operator_lines() -> list[str]:
    lines = [settings.BILLING_OPERATOR_NAME]
    lines += [part.strip() for part in settings.BILLING_OPERATOR_ADDRESS.splitlines()]
    if settings.BILLING_OPERATOR_VAT_ID:
        lines.append(f"VAT ID: {settings.BILLING_OPERATOR_VAT_ID}")
    return lines


def _driver_lines(invoice: Invoice) -> list[str]:
    session = invoice.transaction
    lines = ["Billed to:"]
    driver = session.tag.driver if session.tag_id and session.tag.driver_id else None
    if driver is not None:
        lines += [str(driver), driver.user.email]
    lines.append(f"Id tag: {session.id_tag}")
    return lines


def _station_lines(invoice: Invoice) -> list[str]:
    session = invoice.transaction
    station = session.charge_point.station
    lines = ["Charging site:"]
    if station is not None:
        lines += [
            station.name,
            station.address,
            " ".join(part for part in (station.postal_code, station.city) if part),
            station.country,
        ]
    lines.append(
        f"Charge point {session.charge_point.charge_point_id}, connector "
        f"{session.connector.connector_id}"
    )
    return lines


def _session_table(invoice: Invoice, zone: ZoneInfo) -> Table:
    session = invoice.transaction
    energy_kwh = Decimal(invoice.energy_wh) / 1000
    source = session.get_energy_source_display() if session.energy_source else "-"
    rows = [
        ["Session", f"#{session.pk}"],
        ["Start", _when(session.start_timestamp, zone)],
        ["Stop", _when(session.stop_timestamp, zone)],
        ["Energy", f"{energy_kwh:f} kWh"],
        ["Energy measured by", source],
        ["Tariff", invoice.tariff_snapshot.get("name", "-")],
    ]
    table = Table(rows, colWidths=[45 * mm, 120 * mm], hAlign="LEFT")
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (0, -1), "Helvetica-Bold")]))
    return table


def _lines_table(invoice: Invoice) -> Table:
    currency = invoice.currency
    rows = [["Description", "Quantity", "Unit", "Unit price", "Amount"]]
    for line in invoice.lines.all():
        rows.append(
            [
                Paragraph(escape(line.description), _BODY),
                f"{line.quantity.normalize():f}",
                line.unit,
                f"{line.unit_price.normalize():f}",
                _money(line.amount, currency),
            ]
        )
    vat_rate = invoice.tariff_snapshot.get("vat_rate", "")
    rows += [
        ["", "", "", "Net total", _money(invoice.net_total, currency)],
        ["", "", "", f"VAT {vat_rate} %", _money(invoice.vat_total, currency)],
        ["", "", "", "Total", _money(invoice.total, currency)],
    ]
    table = Table(rows, colWidths=[70 * mm, 22 * mm, 16 * mm, 27 * mm, 30 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
                ("LINEABOVE", (3, -3), (-1, -3), 0.5, colors.black),
                ("FONTNAME", (3, -1), (-1, -1), "Helvetica-Bold"),
                ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def invoice_pdf_bytes(invoice: Invoice) -> bytes:
    """Render one invoice as a PDF document and return its bytes."""
    session = invoice.transaction
    station = session.charge_point.station
    zone = _zone(station.time_zone if station else "UTC")
    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"Invoice {invoice.number}",
        author=settings.BILLING_OPERATOR_NAME,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
    )
    story = [
        *_paragraphs(_operator_lines()),
        Spacer(1, 8 * mm),
        Paragraph(escape(f"Invoice {invoice.number}"), _STYLES["Title"]),
        *_paragraphs([f"Issued: {_when(invoice.issued_at, zone)}"], _RIGHT),
        Spacer(1, 4 * mm),
        *_paragraphs(_driver_lines(invoice)),
        Spacer(1, 4 * mm),
        *_paragraphs(_station_lines(invoice)),
        Spacer(1, 6 * mm),
        _session_table(invoice, zone),
        Spacer(1, 8 * mm),
        _lines_table(invoice),
        Spacer(1, 8 * mm),
        *_paragraphs(["Prices are net; VAT is shown separately."]),
    ]
    document.build(story)
    return buffer.getvalue()

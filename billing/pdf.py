"""The invoice as a PDF document, rendered with reportlab.

`invoice_pdf_bytes` is all the admin and the API need; it reads the invoice's
own figures (never recomputes them), and prints session times in the
station's time zone, as the driver saw them on site.

Every label is translated into the language of whoever asked for the PDF
(the active language: the console user's choice, or the API request's
Accept-Language), and printed in fonts with Thai and Latin glyphs
(billing/pdf_fonts.py). What the invoice stores stays as stored (names,
addresses); its line descriptions, stored in English, are printed in the
reader's language from their component. Dates stay Gregorian, as the
invoice number's year is.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from io import BytesIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from .models import Invoice, InvoiceLine
from .pdf_fonts import PRIMARY, fonts_register, markup
from .pricing import Component

# Laksaman (like TH Sarabun) draws small at a given size: 13 pt reads like
# 10 pt Helvetica.
BODY_SIZE = 13


def _styles() -> dict[str, ParagraphStyle]:
    fonts_register()
    body = ParagraphStyle("body", fontName=PRIMARY.regular, fontSize=BODY_SIZE, leading=16)
    return {
        "body": body,
        "bold": ParagraphStyle("bold", parent=body, fontName=PRIMARY.bold),
        "right": ParagraphStyle("right", parent=body, alignment=TA_RIGHT),
        "right_bold": ParagraphStyle(
            "right_bold", parent=body, fontName=PRIMARY.bold, alignment=TA_RIGHT
        ),
        "title": ParagraphStyle(
            "title", parent=body, fontName=PRIMARY.bold, fontSize=24, leading=30, spaceAfter=4
        ),
    }


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _when(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if moment else "-"


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:,f} {currency}"


def _para(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(markup(text, bold=style.fontName == PRIMARY.bold), style)


def _paragraphs(lines: list[str], style: ParagraphStyle) -> list[Paragraph]:
    return [_para(line, style) for line in lines if line]


def _operator_lines() -> list[str]:
    lines = [settings.BILLING_OPERATOR_NAME]
    lines += [part.strip() for part in settings.BILLING_OPERATOR_ADDRESS.splitlines()]
    if settings.BILLING_OPERATOR_VAT_ID:
        lines.append(_("VAT ID: %(vat_id)s") % {"vat_id": settings.BILLING_OPERATOR_VAT_ID})
    return lines


def _driver_lines(invoice: Invoice) -> list[str]:
    session = invoice.transaction
    lines = [_("Billed to:")]
    driver = session.tag.driver if session.tag_id and session.tag.driver_id else None
    if driver is not None:
        lines += [str(driver), driver.user.email]
    lines.append(_("Id tag: %(id_tag)s") % {"id_tag": session.id_tag})
    return lines


def _station_lines(invoice: Invoice) -> list[str]:
    session = invoice.transaction
    station = session.charge_point.station
    lines = [_("Charging site:")]
    if station is not None:
        lines += [
            station.name,
            station.address,
            " ".join(part for part in (station.postal_code, station.city) if part),
            station.country,
        ]
    lines.append(
        _("Charge point %(charge_point)s, connector %(connector)s")
        % {
            "charge_point": session.charge_point.charge_point_id,
            "connector": session.connector.connector_id,
        }
    )
    return lines


def _session_table(invoice: Invoice, zone: ZoneInfo, styles) -> Table:
    session = invoice.transaction
    energy_kwh = Decimal(invoice.energy_wh) / 1000
    source = session.get_energy_source_display() if session.energy_source else "-"
    rows = [
        (_("Session"), f"#{session.pk}"),
        (_("Start"), _when(session.start_timestamp, zone)),
        (_("Stop"), _when(session.stop_timestamp, zone)),
        (_("Energy"), f"{energy_kwh:f} kWh"),
        (_("Energy measured by"), str(source)),
        (_("Tariff"), invoice.tariff_snapshot.get("name", "-")),
    ]
    cells = [[_para(label, styles["bold"]), _para(value, styles["body"])] for label, value in rows]
    table = Table(cells, colWidths=[60 * mm, 105 * mm], hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table


# How pricing words the lines it stores (billing.pricing): the part after the
# name (a period "22:00-06:00", the grace) is kept and printed as is.
_STORED_NAMES = {
    Component.ENERGY: "Energy",
    Component.TIME: "Charging time",
    Component.IDLE: "Idle fee",
    Component.SESSION_FEE: "Session fee",
    Component.MINIMUM: "Minimum per session",
    Component.MAXIMUM: "Maximum per session",
}
_GRACE = re.compile(r"^ \(after (\d+) min grace\)$")


def _line_description(line: InvoiceLine) -> str:
    """The line's description in the reader's language; the stored text if unknown."""
    stored = _STORED_NAMES.get(line.component)
    if stored is None or not line.description.startswith(stored):
        return line.description
    rest = line.description[len(stored) :]
    names = {
        Component.ENERGY: _("Energy"),
        Component.TIME: _("Charging time"),
        Component.IDLE: _("Idle fee"),
        Component.SESSION_FEE: _("Session fee"),
        Component.MINIMUM: _("Minimum per session"),
        Component.MAXIMUM: _("Maximum per session"),
    }
    grace = _GRACE.match(rest)
    if line.component == Component.IDLE and grace:
        rest = " " + _("(after %(minutes)s min grace)") % {"minutes": grace.group(1)}
    return f"{names[line.component]}{rest}"


def _unit(unit: str) -> str:
    units = {
        "min": pgettext("invoice unit", "min"),
        "session": pgettext("invoice unit", "session"),
    }
    return units.get(unit, unit)


def _lines_table(invoice: Invoice, styles) -> Table:
    currency = invoice.currency
    body, right, right_bold = styles["body"], styles["right"], styles["right_bold"]
    headings = [_("Description"), _("Quantity"), _("Unit"), _("Unit price"), _("Amount")]
    rows = [
        [_para(headings[0], styles["bold"]), *(_para(text, right_bold) for text in headings[1:])]
    ]
    for line in invoice.lines.all():
        rows.append(
            [
                _para(_line_description(line), body),
                _para(f"{line.quantity.normalize():f}", right),
                _para(_unit(line.unit), right),
                _para(f"{line.unit_price.normalize():f}", right),
                _para(_money(line.amount, currency), right),
            ]
        )
    vat_rate = invoice.tariff_snapshot.get("vat_rate", "")
    totals = [
        (_("Net total"), invoice.net_total, right),
        (_("VAT %(rate)s %%") % {"rate": vat_rate}, invoice.vat_total, right),
        (_("Total"), invoice.total, right_bold),
    ]
    for label, amount, style in totals:
        rows.append(["", _para(label, style), "", "", _para(_money(amount, currency), style)])
    table = Table(rows, colWidths=[56 * mm, 22 * mm, 18 * mm, 33 * mm, 36 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
                ("LINEABOVE", (1, -3), (-1, -3), 0.5, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                # A total's label (e.g. "VAT 7.00 %", longer in Thai) spans three columns.
                *(("SPAN", (1, row), (3, row)) for row in (-3, -2, -1)),
            ]
        )
    )
    return table


def invoice_pdf_bytes(invoice: Invoice, *, language: str | None = None) -> bytes:
    """Render one invoice as a PDF document and return its bytes.

    In `language` if given, else in the active language (the request's).
    """
    if language is not None:
        with translation.override(language):
            return invoice_pdf_bytes(invoice)
    styles = _styles()
    session = invoice.transaction
    station = session.charge_point.station
    zone = _zone(station.time_zone if station else "UTC")
    title = _("Invoice %(number)s") % {"number": invoice.number}
    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=title,
        author=settings.BILLING_OPERATOR_NAME,
        lang=translation.get_language() or settings.LANGUAGE_CODE,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
    )
    story = [
        *_paragraphs(_operator_lines(), styles["body"]),
        Spacer(1, 8 * mm),
        _para(title, styles["title"]),
        *_paragraphs(
            [_("Issued: %(date)s") % {"date": _when(invoice.issued_at, zone)}], styles["right"]
        ),
        Spacer(1, 4 * mm),
        *_paragraphs(_driver_lines(invoice), styles["body"]),
        Spacer(1, 4 * mm),
        *_paragraphs(_station_lines(invoice), styles["body"]),
        Spacer(1, 6 * mm),
        _session_table(invoice, zone, styles),
        Spacer(1, 8 * mm),
        _lines_table(invoice, styles),
        Spacer(1, 8 * mm),
        *_paragraphs([_("Prices are net; VAT is shown separately.")], styles["body"]),
    ]
    document.build(story)
    return buffer.getvalue()

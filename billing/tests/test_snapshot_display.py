"""Tariff snapshots shown as a table of prices, not as JSON."""

import re
from datetime import time
from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse

from api_support.testing import make_charge_point, make_invoice, make_session
from billing.models import Tariff, TariffPeriod
from billing.services import tariff_snapshot
from billing.snapshot_display import tariff_snapshot_html

pytestmark = pytest.mark.django_db


@pytest.fixture
def snapshot():
    tariff = Tariff.objects.create(
        name="Depot <night>",
        currency="EUR",
        price_per_kwh=Decimal("0.4000"),
        idle_price_per_minute=Decimal("0.10"),
        idle_grace_minutes=15,
        session_fee=Decimal("1.00"),
        min_price=Decimal("2.00"),
        vat_rate=Decimal("19.00"),
    )
    TariffPeriod.objects.create(
        tariff=tariff, start_time=time(22), end_time=time(6), price_per_kwh=Decimal("0.2500")
    )
    return tariff_snapshot(tariff)


def cells(html: str) -> list[list[str]]:
    """The rows of the tables, as lists of their cells' text."""
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
    return [
        [
            unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in rows
    ]


def test_components_prices_periods_vat_and_currency(snapshot):
    html = tariff_snapshot_html(snapshot)
    rows = cells(html)
    assert ["Energy", "0.40 EUR per kWh", ""] in rows
    assert ["Charging time", "not charged", "from the start until charging ends"] in rows
    assert [
        "Idle time",
        "0.10 EUR per minute",
        "after 15 minutes of grace; idle means below 100 W",
    ] in rows
    assert ["Session fee", "1.00 EUR per session", ""] in rows
    assert ["Minimum per session", "2.00 EUR", "net, before VAT"] in rows
    assert ["VAT", "19 %", "on the net total"] in rows
    assert ["22:00–06:00", "0.25 EUR per kWh", "tariff's price"] in rows
    assert "currency: EUR" in html
    assert "Maximum per session" not in html  # none set
    # The name is escaped, and links to the tariff as it is today.
    assert "Depot &lt;night&gt;" in html
    assert reverse("admin:billing_tariff_change", args=[snapshot["id"]]) in html
    assert "{" not in html  # no JSON


def test_older_snapshots_show_pricing_defaults():
    html = tariff_snapshot_html({"name": "Old", "currency": "THB", "price_per_kwh": "7.5"})
    rows = cells(html)
    assert ["Energy", "7.50 THB per kWh", ""] in rows
    assert ["Session fee", "not charged", ""] in rows
    assert ["VAT", "0 %", "on the net total"] in rows
    assert "Old" in html and "/change/" not in html  # no id: no link


def test_currency_without_minor_unit():
    html = tariff_snapshot_html({"name": "Tokyo", "currency": "JPY", "price_per_kwh": "55"})
    assert ["Energy", "55 JPY per kWh", ""] in cells(html)


@pytest.mark.parametrize("broken", [{"name": "no currency"}, {"currency": "EUR", "vat_rate": "x"}])
def test_unreadable_snapshot_shows_its_json(broken):
    html = tariff_snapshot_html(broken)
    assert html.startswith("<code>")
    assert "&#x27;" in html or "&quot;" in html or "{" in html


def test_empty_snapshot():
    assert tariff_snapshot_html({}) == "—"
    assert tariff_snapshot_html(None) == "—"


def test_invoice_page_shows_the_table_not_json(admin_client, snapshot):
    charge_point = make_charge_point("CP-SNAP")
    session = make_session(charge_point, "TAG", energy_wh=7500, tariff_snapshot=snapshot)
    invoice = make_invoice(session)
    invoice.tariff_snapshot = snapshot
    invoice.save()
    html = admin_client.get(reverse("admin:billing_invoice_change", args=[invoice.pk])).content
    html = html.decode()
    assert 'class="tariff-components"' in html
    assert "0.25 EUR per kWh" in html
    assert '"price_per_kwh"' not in html

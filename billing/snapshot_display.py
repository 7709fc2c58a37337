"""A tariff snapshot as operators read it: a small table, not JSON.

A session keeps the prices in force at its start (`Transaction.tariff_snapshot`)
and its invoice keeps them too (`Invoice.tariff_snapshot`). Both console pages
show them with `tariff_snapshot_html`: each price with its unit, the idle
rules, minimum and maximum, VAT and currency, and the time-of-day periods.
The snapshot is read as pricing reads it (`Terms.from_snapshot`), so keys an
older snapshot lacks show the defaults pricing applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _

from .money import round_money
from .pricing import Terms

EMPTY = "—"
TEMPLATE = "billing/tariff_snapshot.html"


def _amount(value: Decimal, currency: str) -> str:
    """A price as stored, without trailing zeros but with the currency's minor digits."""
    places = -round_money(Decimal(1), currency).as_tuple().exponent
    text = f"{value.normalize():f}"
    whole, _dot, fraction = text.partition(".")
    fraction = fraction.ljust(places, "0")
    return f"{whole}.{fraction}" if fraction else whole


def _price(value: Decimal | None, currency: str, unit: str) -> str:
    if value is None:
        return EMPTY
    if value == 0:
        return _("not charged")
    return f"{_amount(value, currency)} {currency} {unit}".strip()


def snapshot_rows(terms: Terms) -> list[tuple[str, str, str]]:
    """(component, price, how it applies) for each part of the tariff."""
    currency = terms.currency
    rows = [
        (_("Energy"), _price(terms.price_per_kwh, currency, _("per kWh")), ""),
        (
            _("Charging time"),
            _price(terms.price_per_minute, currency, _("per minute")),
            _("from the start until charging ends"),
        ),
        (
            _("Idle time"),
            _price(terms.idle_price_per_minute, currency, _("per minute")),
            _("after %(grace)s minutes of grace; idle means below %(watts)s W")
            % {"grace": terms.idle_grace_minutes, "watts": terms.idle_power_threshold_w}
            if terms.idle_price_per_minute
            else "",
        ),
        (_("Session fee"), _price(terms.session_fee, currency, _("per session")), ""),
    ]
    if terms.min_price is not None:
        rows.append(
            (
                _("Minimum per session"),
                _price(terms.min_price, currency, ""),
                _("net, before VAT"),
            )
        )
    if terms.max_price is not None:
        rows.append(
            (
                _("Maximum per session"),
                _price(terms.max_price, currency, ""),
                _("net, before VAT"),
            )
        )
    rows.append((_("VAT"), f"{terms.vat_rate.normalize():f} %", _("on the net total")))
    return rows


def period_rows(terms: Terms) -> list[tuple[str, str, str]]:
    """(time of day, per kWh, per minute); a blank price is the tariff's own."""
    tariff_price = _("tariff's price")
    return [
        (
            f"{period.start:%H:%M}–{period.end:%H:%M}",
            _price(period.price_per_kwh, terms.currency, _("per kWh"))
            if period.price_per_kwh is not None
            else tariff_price,
            _price(period.price_per_minute, terms.currency, _("per minute"))
            if period.price_per_minute is not None
            else tariff_price,
        )
        for period in terms.periods
    ]


def _tariff_link(snapshot: Mapping) -> str:
    name = snapshot.get("name") or EMPTY
    tariff_id = snapshot.get("id")
    if not isinstance(tariff_id, int):
        return name
    try:
        url = reverse("admin:billing_tariff_change", args=[tariff_id])
    except NoReverseMatch:
        return name
    # The tariff as it is today, which may differ from the prices kept here.
    return format_html('<a href="{}">{}</a>', url, name)


def tariff_snapshot_html(snapshot) -> str:
    """The snapshot as a table (HTML, escaped); an unreadable one as its raw JSON."""
    if not snapshot:
        return EMPTY
    try:
        terms = Terms.from_snapshot(snapshot)
    except (AttributeError, KeyError, TypeError, ValueError, InvalidOperation):
        return format_html("<code>{}</code>", snapshot)
    return render_to_string(
        TEMPLATE,
        {
            "tariff": _tariff_link(snapshot),
            "currency": terms.currency,
            "rows": snapshot_rows(terms),
            "periods": period_rows(terms),
        },
    )

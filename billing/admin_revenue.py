"""The revenue report of the console (Billing → Invoices → Revenue report).

One month at a time, in the operator's time zone (settings.TIME_ZONE):
revenue per day (the invoices issued, gross, per currency) as a chart and
a table, energy delivered per day (the hourly roll-up), the month's totals,
and every station's share; optionally for one station. Read in a fixed
number of queries (billing.reports), whatever the number of invoices.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from monitoring.charts_daily import daily_bars_svg
from stations.models import Station

from .reports import (
    energy_delivered_by_day,
    month_first_day,
    period_month,
    revenue_by_day,
    revenue_by_station,
    revenue_totals,
)

MONTH_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")
CHART_COLORS = ("#417690", "#2e7d32", "#8e24aa", "#e0892b")
ENERGY_COLOR = "#e0892b"


class RevenueForm(forms.Form):
    month = forms.CharField(
        label=gettext_lazy("month"),
        required=False,
        max_length=7,
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"}),
        help_text=gettext_lazy("YYYY-MM; this month when empty."),
    )
    station = forms.ModelChoiceField(
        label=gettext_lazy("station"),
        queryset=Station.objects.order_by("name"),
        required=False,
        empty_label=gettext_lazy("every station"),
    )

    def clean_month(self) -> date | None:
        value = self.cleaned_data["month"]
        if not value:
            return None
        match = MONTH_PATTERN.match(value)
        if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1:
            raise forms.ValidationError(
                gettext_lazy("Enter a month as YYYY-MM, e.g. 2025-03."), code="invalid_month"
            )
        return date(int(match[1]), int(match[2]), 1)


def _days(first: date) -> list[date]:
    last = month_first_day(first, 1)
    return [first + timedelta(days=n) for n in range((last - first).days)]


def _report_url(**params) -> str:
    return f"{reverse('admin:billing_invoice_revenue')}?{urlencode(params)}"


def revenue_context(*, month: date, station: Station | None, zone: ZoneInfo) -> dict:
    """What the report page shows for a month (and a station)."""
    start, end = period_month(month=month, zone=zone)
    station_id = station.pk if station else None
    days = _days(month_first_day(month))
    totals = revenue_totals(start=start, end=end, station_id=station_id)
    per_day = revenue_by_day(start=start, end=end, zone=zone, station_id=station_id)
    energy = energy_delivered_by_day(start=start, end=end, zone=zone, station_id=station_id)
    currencies = [total.currency for total in totals]
    amounts = {(row.day, row.currency): row.total for row in per_day}
    invoices = {}
    for row in per_day:
        invoices[row.day] = invoices.get(row.day, 0) + row.invoices
    charts = [
        {
            "currency": currency,
            "svg": daily_bars_svg(
                days=days,
                values=[float(amounts.get((day, currency), Decimal(0))) for day in days],
                title=_("Revenue per day (%(currency)s)") % {"currency": currency},
                unit=currency,
                color=CHART_COLORS[index % len(CHART_COLORS)],
            ),
        }
        for index, currency in enumerate(currencies)
    ]
    energy_chart = daily_bars_svg(
        days=days,
        values=[energy.get(day, 0) / 1000 for day in days],
        title=_("Energy delivered per day (kWh)"),
        unit="kWh",
        color=ENERGY_COLOR,
    )
    rows = [
        {
            "day": day,
            "amounts": [amounts.get((day, currency)) for currency in currencies],
            "invoices": invoices.get(day, 0),
            "energy_kwh": f"{energy.get(day, 0) / 1000:.1f}",
        }
        for day in days
    ]
    month_param = month.strftime("%Y-%m")
    stations = []
    if station is None:
        for row in revenue_by_station(start=start, end=end):
            by_currency = {total.currency: total for total in row.totals}
            stations.append(
                {
                    "name": row.station_name or _("(no station)"),
                    "url": _report_url(month=month_param, station=row.station_id)
                    if row.station_id
                    else "",
                    "amounts": [by_currency.get(c) for c in currencies],
                    "invoices": sum(total.invoices for total in row.totals),
                    "energy_kwh": f"{row.energy_delivered_wh / 1000:.1f}",
                }
            )
    station_param = {"station": station.pk} if station else {}
    last_day = days[-1]
    return {
        "month": month,
        "month_param": month_param,
        "currencies": currencies,
        "totals": totals,
        "charts": charts,
        "energy_chart": energy_chart,
        "energy_total_kwh": f"{sum(energy.values()) / 1000:.1f}",
        "invoice_count": sum(total.invoices for total in totals),
        "rows": rows,
        "stations": stations,
        "previous_url": _report_url(
            month=month_first_day(month, -1).strftime("%Y-%m"), **station_param
        ),
        "next_url": _report_url(month=month_first_day(month, 1).strftime("%Y-%m"), **station_param),
        "export_url": reverse("admin:billing_invoice_export")
        + "?"
        + urlencode(
            {
                "kind": "invoices",
                "date_from": days[0].isoformat(),
                "date_to": last_day.isoformat(),
                **station_param,
            }
        ),
        "invoices_url": reverse("admin:billing_invoice_changelist")
        + "?"
        + urlencode({"issued_at__year": month.year, "issued_at__month": month.month}),
    }


def revenue_view(model_admin, request):
    """GET ?month=YYYY-MM&station=<id>: the report; a bad field is answered 400, named."""
    if not request.user.has_perm("billing.view_invoice"):
        raise PermissionDenied
    zone = ZoneInfo(settings.TIME_ZONE)
    form = RevenueForm(request.GET or None)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Revenue report"),
        "opts": model_admin.model._meta,
        "form": form,
        "time_zone": settings.TIME_ZONE,
    }
    if request.GET and not form.is_valid():
        return TemplateResponse(request, "admin/billing/invoice/revenue.html", context, status=400)
    cleaned = form.cleaned_data if request.GET else {}
    month = cleaned.get("month") or timezone.now().astimezone(zone).date().replace(day=1)
    station = cleaned.get("station")
    if not request.GET:
        form = RevenueForm(initial={"month": month.strftime("%Y-%m")})
    context.update(form=form, station=station)
    context.update(revenue_context(month=month, station=station, zone=zone))
    return TemplateResponse(request, "admin/billing/invoice/revenue.html", context)

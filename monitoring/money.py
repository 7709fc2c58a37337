"""The dashboard's money and energy: revenue tiles and the running sessions' costs so far.

Days and months are the operator's (settings.TIME_ZONE), as on every
console page. Revenue is what the invoices issued in the period add up to,
per currency (gross, as drivers pay it); energy is billing.reports'
"delivered": sessions finished in the period plus what running ones
delivered so far. A handful of aggregate queries, whatever the size of the
network; the running sessions list shows the newest RUNNING_SESSIONS_SHOWN.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from billing.reports import (
    energy_delivered_since_wh,
    period_month,
    period_today,
    revenue_totals,
    running_sessions,
)
from stations.choices import SessionStatus
from stations.models import Transaction

RUNNING_SESSIONS_SHOWN = 50


def operator_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _invoice_list(**params) -> str:
    return f"{reverse('admin:billing_invoice_changelist')}?{urlencode(params)}"


def revenue_report_url(**params) -> str:
    url = reverse("admin:billing_invoice_revenue")
    return f"{url}?{urlencode(params)}" if params else url


def dashboard_money(*, now: datetime | None = None) -> dict:
    """Revenue and energy of today and this month (JSON-ready)."""
    now = now or timezone.now()
    zone = operator_zone()
    today_start, today_end = period_today(now=now, zone=zone)
    local_today = today_start.date()
    month_start, month_end = period_month(month=local_today, zone=zone)
    # One scan of the month's sessions for both figures, running ones counted once.
    today_wh, month_wh = energy_delivered_since_wh(since=(today_start, month_start))
    return {
        "today": local_today.isoformat(),
        "month": local_today.strftime("%Y-%m"),
        "revenue": {
            "today": [t.as_json() for t in revenue_totals(start=today_start, end=today_end)],
            "month": [t.as_json() for t in revenue_totals(start=month_start, end=month_end)],
        },
        "energy": {
            "today_wh": today_wh,
            "month_wh": month_wh,
        },
        "links": {
            # The invoice list's date drill-down counts days in TIME_ZONE too.
            "invoices_today": _invoice_list(
                issued_at__year=local_today.year,
                issued_at__month=local_today.month,
                issued_at__day=local_today.day,
            ),
            "invoices_month": _invoice_list(
                issued_at__year=local_today.year, issued_at__month=local_today.month
            ),
            "report": revenue_report_url(month=local_today.strftime("%Y-%m")),
        },
    }


def _bill_json(bill) -> dict | None:
    if bill is None:
        return None
    return {"currency": bill.currency, "net": str(bill.net), "total": str(bill.total)}


def dashboard_sessions(*, now: datetime | None = None, limit: int = RUNNING_SESSIONS_SHOWN) -> dict:
    """The newest running sessions with energy, duration and cost so far (JSON-ready)."""
    now = now or timezone.now()
    rows = running_sessions(limit=limit, now=now)
    return {
        "count": Transaction.objects.filter(status=SessionStatus.RUNNING).count(),
        "shown": len(rows),
        "url": f"{reverse('admin:stations_transaction_changelist')}?"
        + urlencode({"status__exact": SessionStatus.RUNNING}),
        "at": now.isoformat(),
        "rows": [
            {
                "transaction": row.transaction.pk,
                "url": reverse("admin:stations_transaction_change", args=[row.transaction.pk]),
                "charge_point": row.transaction.charge_point.charge_point_id,
                "charge_point_url": reverse(
                    "admin:stations_chargepoint_change", args=[row.transaction.charge_point_id]
                ),
                "online": row.transaction.charge_point.is_online,
                "station": row.transaction.charge_point.station.name
                if row.transaction.charge_point.station
                else "",
                "connector_id": row.transaction.connector.connector_id,
                "id_tag": row.transaction.id_tag,
                "start": row.transaction.start_timestamp.isoformat(),
                "energy_wh": row.energy_wh,
                "duration_s": int(row.duration.total_seconds()),
                "cost": _bill_json(row.cost),
                "disputed": row.transaction.is_disputed,
            }
            for row in rows
        ],
    }

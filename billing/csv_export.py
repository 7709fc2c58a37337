"""CSV export of invoices and sessions for accounting, served from the admin.

Rows are read in keyset batches and streamed (a year of sessions does not
fit in one response buffer; api_support/streaming.py) and text cells that a
spreadsheet would run as a formula are defused.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django import forms
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from api_support.streaming import csv_chunks, streaming_file
from stations.models import Station

from . import selectors


class ExportForm(forms.Form):
    INVOICES = "invoices"
    TRANSACTIONS = "transactions"

    kind = forms.ChoiceField(
        label=_("export"),
        choices=[
            (INVOICES, _("invoices (by issue date)")),
            (TRANSACTIONS, _("sessions (by start)")),
        ],
    )
    date_from = forms.DateField(
        label=_("from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("to (included)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    station = forms.ModelChoiceField(
        label=_("station"), queryset=Station.objects.all(), required=False
    )

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and end < start:
            raise forms.ValidationError(_("The end date is before the start date."))
        return cleaned


def _midnight(day: date | None) -> datetime | None:
    """Midnight starting `day` in the operator's time zone (TIME_ZONE)."""
    if day is None:
        return None
    return timezone.make_aware(datetime.combine(day, time.min))


def export_response(form: ExportForm, *, request) -> StreamingHttpResponse:
    """The CSV file a valid form asks for."""
    data = form.cleaned_data
    end_day = data["date_to"] + timedelta(days=1) if data["date_to"] else None
    filters = dict(
        start=_midnight(data["date_from"]),
        end=_midnight(end_day),
        station_id=data["station"].pk if data["station"] else None,
    )
    if data["kind"] == ExportForm.INVOICES:
        header, rows = selectors.INVOICE_CSV_HEADER, selectors.invoice_export_rows(**filters)
    else:
        header, rows = (
            selectors.TRANSACTION_CSV_HEADER,
            selectors.transaction_export_rows(**filters),
        )
    span = "-".join(str(day) for day in (data["date_from"], data["date_to"]) if day)
    filename = f"{data['kind']}{'-' + span if span else ''}.csv"
    return streaming_file(
        csv_chunks(header, rows),
        request=request,
        content_type="text/csv; charset=utf-8",
        filename=filename,
    )

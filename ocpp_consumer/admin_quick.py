"""The console's quick actions and the id tag search of the command form.

- `quick_action_view` (admin:ocpp_consumer_command_quick, POST): a button's
  Unlock, Reset, Make available / inoperative or Stop, sent through the
  command path as the charge point's version spells it (console_quick.py),
  answered with a coloured message, back to the page it came from;
- the connector list's bulk actions (the same quick actions on many);
- `idtag_search_view` (admin:ocpp_consumer_command_idtags): the id tags
  matching what the operator types, for the form's datalist.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, Q, Value, When
from django.http import HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _

from drivers.selectors import idtag_list
from stations.models import ChargePoint, Connector, Transaction
from stations.selectors import chargepoint_get

from .admin_sending import command_run, report_outcome, send_each
from .console_quick import (
    MAKE_AVAILABLE,
    MAKE_INOPERATIVE,
    QUICK_LABELS,
    RESET_SOFT,
    STOP,
    UNLOCK,
    QuickActionError,
    plug_to_unlock,
    quick_command,
)
from .templatetags.console_actions import session_stop_button_html

CHANGE_CHARGE_POINTS = "stations.change_chargepoint"
IDTAG_SEARCH_LIMIT = 20


class QuickActionForm(forms.Form):
    charge_point = forms.CharField(max_length=255, required=False)
    quick = forms.ChoiceField(choices=list(QUICK_LABELS.items()))
    connector_id = forms.IntegerField(min_value=0, max_value=2**31 - 1, required=False)
    transaction = forms.IntegerField(min_value=1, max_value=2**31 - 1, required=False)
    next = forms.CharField(max_length=2000, required=False)

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("charge_point") and not cleaned.get("transaction"):
            self.add_error("charge_point", _("Name the charge point."))
        return cleaned


def safe_next(request, url: str | None) -> str | None:
    """`url` if it is a page of this site, else None (never an open redirect)."""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return None


def quick_action_view(request):
    """Send one quick action; a message with its outcome; back to `next`."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not request.user.has_perm(CHANGE_CHARGE_POINTS):
        raise PermissionDenied
    form = QuickActionForm(request.POST)
    back = safe_next(request, request.POST.get("next"))
    if not form.is_valid():
        for name, errors in form.errors.items():
            messages.error(request, f"{name}: {' '.join(errors)}")
        return redirect(back or reverse("admin:index"))
    data = form.cleaned_data
    try:
        charge_point, action, payload = _resolve(data)
    except QuickActionError as exc:
        messages.error(request, f"{exc.field}: {exc}")
        return redirect(back or reverse("admin:index"))
    outcome = command_run(
        request, charge_point_id=charge_point.charge_point_id, action=action, payload=payload
    )
    report_outcome(request, _subject(charge_point, data), outcome)
    return redirect(back or reverse("admin:stations_chargepoint_change", args=[charge_point.pk]))


def _resolve(data: dict) -> tuple[ChargePoint, str, dict]:
    """The charge point, action and payload of a valid quick action form."""
    session = None
    if data["quick"] == STOP and data.get("transaction"):
        session = (
            Transaction.objects.select_related("charge_point")
            .filter(pk=data["transaction"])
            .first()
        )
        if session is None:
            raise QuickActionError("transaction", str(_("No such session.")))
        if not session.is_open:
            raise QuickActionError("transaction", str(_("This session is not running.")))
    named = data.get("charge_point")
    charge_point = chargepoint_get(charge_point_id=named) if named else session.charge_point
    if charge_point is None:
        raise QuickActionError("charge_point", str(_("No such charge point.")))
    if session is not None and session.charge_point_id != charge_point.pk:
        raise QuickActionError("transaction", str(_("This session is on another charge point.")))
    connector_id = data.get("connector_id")
    plug_id = None
    if data["quick"] == UNLOCK and connector_id:
        plug_id = plug_to_unlock(
            Connector.objects.filter(charge_point=charge_point, connector_id=connector_id)
            .values_list("evse_connector_statuses", flat=True)
            .first()
        )
    action, payload = quick_command(
        quick=data["quick"],
        version=charge_point.ocpp_version,
        connector_id=connector_id,
        transaction_id=session.pk if session else None,
        ocpp_transaction_id=session.ocpp_transaction_id if session else "",
        plug_id=plug_id,
    )
    return charge_point, action, payload


def _subject(charge_point: ChargePoint, data: dict) -> str:
    """Who the message is about: the charge point, and its connector or session."""
    if data["quick"] == STOP and data.get("transaction"):
        return str(
            _("%(charge_point)s, session %(session)s")
            % {"charge_point": charge_point.charge_point_id, "session": data["transaction"]}
        )
    if data.get("connector_id") and data["quick"] != RESET_SOFT:
        return str(
            _("%(charge_point)s, connector %(connector)s")
            % {"charge_point": charge_point.charge_point_id, "connector": data["connector_id"]}
        )
    return charge_point.charge_point_id


def idtag_search_view(request):
    """Id tags for the command form's datalist: {"results": [{"value", "label"}]}.

    Staff only (admin_view) who may see id tags; at most IDTAG_SEARCH_LIMIT,
    those starting with the text first.
    """
    if not request.user.has_perm("drivers.view_idtag"):
        raise PermissionDenied
    text = request.GET.get("q", "").strip()[:64]
    tags = idtag_list()
    if text:
        tags = tags.filter(
            Q(id_tag__icontains=text)
            | Q(note__icontains=text)
            | Q(driver__user__username__icontains=text)
        ).annotate(
            starts=Case(
                When(id_tag__istartswith=text, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        tags = tags.order_by("starts", "id_tag")
    else:
        tags = tags.order_by("-updated_at")
    rows = tags.select_related("driver__user")[:IDTAG_SEARCH_LIMIT]
    return JsonResponse(
        {
            "results": [
                {
                    "value": tag.id_tag,
                    "label": " · ".join(
                        filter(
                            None,
                            [
                                tag.status,
                                tag.driver.user.username if tag.driver else "",
                                tag.note,
                            ],
                        )
                    ),
                }
                for tag in rows
            ]
        }
    )


# --- bulk actions on connectors --------------------------------------------------------


def _connector_bulk_action(name: str, quick: str, description):
    """An admin action of the connector list: `quick` on each selected connector."""

    def run(modeladmin, request, queryset):
        jobs, subjects = [], []
        rows = queryset.select_related("charge_point").order_by(
            "charge_point__charge_point_id", "connector_id"
        )
        reset_once = set()
        for connector in rows:
            charge_point = connector.charge_point
            if quick == RESET_SOFT:  # a reset is of the charge point: once each
                if charge_point.pk in reset_once:
                    continue
                reset_once.add(charge_point.pk)
            try:
                action, payload = quick_command(
                    quick=quick,
                    version=charge_point.ocpp_version,
                    connector_id=connector.connector_id,
                    plug_id=plug_to_unlock(connector.evse_connector_statuses),
                )
            except QuickActionError as exc:  # e.g. unlock of connector 0
                messages.error(request, f"{charge_point.charge_point_id}: {exc}")
                continue
            jobs.append((charge_point.charge_point_id, action, payload))
            subjects.append(
                _subject(charge_point, {"quick": quick, "connector_id": connector.connector_id})
            )
        outcomes = async_to_sync(send_each)(jobs, request.user.pk)
        for subject, (_cp, outcome) in zip(subjects, outcomes, strict=True):
            report_outcome(request, subject, outcome)

    run.__name__ = name
    run.short_description = description
    run.allowed_permissions = ("change_charge_points",)
    return run


CONNECTOR_ACTIONS = [
    _connector_bulk_action("quick_unlock", UNLOCK, _("Unlock the selected connectors")),
    _connector_bulk_action(
        "quick_make_available", MAKE_AVAILABLE, _("Make the selected connectors available")
    ),
    _connector_bulk_action(
        "quick_make_inoperative", MAKE_INOPERATIVE, _("Make the selected connectors inoperative")
    ),
    _connector_bulk_action(
        "quick_reset_soft", RESET_SOFT, _("Reset (soft) the charge points of the selected")
    ),
]


class ConnectorCommandsMixin:
    """For the connector admin: the bulk quick actions, for who may command charge points."""

    actions = CONNECTOR_ACTIONS

    def has_change_charge_points_permission(self, request):
        return request.user.has_perm(CHANGE_CHARGE_POINTS)


class SessionStopColumnMixin:
    """For the session list: a Stop button on each running session's row.

    The buttons submit the one form {% session_stop_form %} renders after the
    list's own form (templates/admin/stations/transaction/change_list.html).
    """

    def get_list_display(self, request):
        columns = tuple(super().get_list_display(request))
        if not request.user.has_perm(CHANGE_CHARGE_POINTS):
            return columns
        return (*columns, "stop_button")

    @admin.display(description=_("command"))
    def stop_button(self, transaction: Transaction) -> str:
        return session_stop_button_html(transaction) if transaction.is_open else ""

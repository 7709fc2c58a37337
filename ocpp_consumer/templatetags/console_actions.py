"""Quick command buttons and outcome badges for console pages.

    {% load console_actions %}
    {% console_actions_assets %}       in the page's head: the buttons' style and script
    {% connector_actions charge_point_id connector_id status next_url %}
    {% session_stop_button transaction next_url %}
    {% charge_point_quick_actions charge_point %}    a charge point's connectors and sessions
    {% command_outcome_badge command %}

Each button posts to admin:ocpp_consumer_command_quick (admin_quick.py),
which sends the right OCPP request for the charge point's version and comes
back to `next_url` (the current page when not given) with the outcome.
Buttons are shown only to users who may command charge points.

Inside another form (the session list's) forms cannot nest: there
`session_stop_button_html` renders buttons bound by their `form` attribute
to the one form `{% session_stop_form %}` renders after it.
"""

from __future__ import annotations

from django import template
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html

from monitoring.console import connector_badge
from stations.choices import SessionStatus

from ..admin_outcomes import outcome_badge
from ..console_quick import QUICK_LABELS, QUICK_TITLES, STOP, connector_quick_buttons

register = template.Library()

CHANGE_CHARGE_POINTS = "stations.change_chargepoint"


def quick_url() -> str:
    return reverse("admin:ocpp_consumer_command_quick")


def _may_command(context) -> bool:
    """False only when the page's user is known and may not command charge points."""
    user = context.get("user")
    if user is None and context.get("request") is not None:
        user = getattr(context["request"], "user", None)
    return user is None or user.has_perm(CHANGE_CHARGE_POINTS)


def _next_url(context, next_url) -> str:
    if next_url:
        return str(next_url)
    request = context.get("request")
    return request.get_full_path() if request is not None else ""


@register.simple_tag
def console_actions_assets() -> str:
    return format_html(
        '<link rel="stylesheet" href="{}"><script src="{}" defer></script>',
        static("ocpp_consumer/console_commands.css"),
        static("ocpp_consumer/console_commands.js"),
    )


@register.inclusion_tag("admin/ocpp_consumer/_connector_actions.html", takes_context=True)
def connector_actions(context, charge_point_id, connector_id, status, next_url=""):
    """Unlock, Reset, Make available / inoperative for one connector, as its status allows."""
    connector_id = int(connector_id)
    buttons = connector_quick_buttons(connector_id=connector_id, status=str(status or ""))
    return {
        "buttons": buttons if _may_command(context) else [],
        "action_url": quick_url(),
        "charge_point_id": charge_point_id,
        "connector_id": connector_id,
        "next_url": _next_url(context, next_url),
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("admin/ocpp_consumer/_session_stop.html", takes_context=True)
def session_stop_button(context, transaction, next_url=""):
    """A Stop button for a running session: a Transaction, its id, or a dict with "id"/"pk"."""
    pk, charge_point_id, running = _session(transaction)
    return {
        "show": running and pk is not None and _may_command(context),
        "action_url": quick_url(),
        "transaction": pk,
        "charge_point_id": charge_point_id,
        "next_url": _next_url(context, next_url),
        "csrf_token": context.get("csrf_token"),
        "label": QUICK_LABELS[STOP],
        "title": QUICK_TITLES[STOP],
    }


def _session(transaction) -> tuple[int | None, str, bool]:
    """(id, charge point's OCPP id or "", whether it runs) of what a page holds."""
    if isinstance(transaction, int | str):
        return (int(transaction) if str(transaction).isdigit() else None), "", True
    if isinstance(transaction, dict):
        pk = transaction.get("pk", transaction.get("id"))
        charge_point = transaction.get("charge_point_id") or transaction.get("charge_point")
        status = transaction.get("status", SessionStatus.RUNNING)
        return (
            pk,
            charge_point if isinstance(charge_point, str) else "",
            (status == SessionStatus.RUNNING),
        )
    if transaction is None:
        return None, "", False
    charge_point = transaction.charge_point.charge_point_id
    return transaction.pk, charge_point, transaction.is_open


@register.inclusion_tag("admin/ocpp_consumer/_charge_point_quick.html", takes_context=True)
def charge_point_quick_actions(context, charge_point, next_url=""):
    """A charge point's quick actions: each connector with its badge and buttons, and a
    Stop button for each running session (the charge point page, above its form)."""
    if charge_point is None or charge_point.pk is None:
        return {"show": False}
    connectors = list(charge_point.connectors.order_by("connector_id"))
    return {
        "show": bool(connectors) or charge_point.is_online,
        "charge_point_id": charge_point.charge_point_id,
        "rows": [(connector, connector_badge(connector)) for connector in connectors],
        "sessions": running_sessions(charge_point),
        "next_url": _next_url(context, next_url),
        # For the tags inside: the page's user and CSRF token.
        "user": context.get("user"),
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
    }


SESSION_STOP_FORM = "console-stop-session"


@register.inclusion_tag("admin/ocpp_consumer/_session_stop_form.html", takes_context=True)
def session_stop_form(context, next_url=""):
    """The form the Stop buttons of `session_stop_button_html` submit (one per page)."""
    return {
        "show": _may_command(context),
        "form_id": SESSION_STOP_FORM,
        "action_url": quick_url(),
        "next_url": _next_url(context, next_url),
        "csrf_token": context.get("csrf_token"),
    }


def session_stop_button_html(transaction) -> str:
    """A session's Stop button inside another form, bound to the page's stop form."""
    return format_html(
        '<button type="submit" form="{}" name="transaction" value="{}" '
        'class="button console-action console-action-stop" title="{}">{}</button>',
        SESSION_STOP_FORM,
        transaction.pk,
        QUICK_TITLES[STOP],
        QUICK_LABELS[STOP],
    )


@register.simple_tag
def running_sessions(charge_point, limit: int = 50):
    """The charge point's running sessions, newest first (a charge point has a few)."""
    if charge_point is None or charge_point.pk is None:
        return []
    return list(
        charge_point.transactions.filter(status=SessionStatus.RUNNING)
        .select_related("charge_point", "connector")
        .order_by("-start_timestamp")[:limit]
    )


@register.simple_tag
def command_outcome_badge(command) -> str:
    return outcome_badge(command)

"""Pieces of the operator console that several admin pages show (HTML fragments)."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from stations.choices import ChargePointErrorCode, ConnectorStatus
from stations.models import ChargePoint

from .selectors import node_for_channel


def status_class(status: str) -> str:
    """CSS class of a connector status badge (console.css)."""
    return f"status-{status.lower()}" if status in ConnectorStatus.values else "status-unknown"


def online_badge(is_online: bool) -> str:
    if is_online:
        return format_html('<span class="badge badge-online">{}</span>', _("Online"))
    return format_html('<span class="badge badge-offline">{}</span>', _("Offline"))


def choice_label(choices, value: str) -> str:
    """The translated label of a stored OCPP value; the value itself when unknown."""
    return choices(value).label if value in choices.values else value


def connector_badge(connector) -> str:
    label = choice_label(ConnectorStatus, connector.status)
    name = _("Charge point") if connector.connector_id == 0 else f"#{connector.connector_id}"
    error = ""
    if connector.error_code and connector.error_code != ChargePointErrorCode.NO_ERROR:
        error = format_html(
            ' <span class="badge-error">{}</span>',
            choice_label(ChargePointErrorCode, connector.error_code),
        )
    return format_html(
        '<span class="badge {}" data-connector="{}" data-status="{}" title="{}">{} {}{}</span>',
        status_class(connector.status),
        connector.connector_id,
        connector.status,
        connector.info,
        name,
        label,
        error,
    )


def chargepoint_badges(charge_point: ChargePoint) -> str:
    """Online/offline, last heartbeat and every connector's status, as badges."""
    if charge_point.pk is None:
        return "—"
    if charge_point.last_heartbeat:
        heartbeat = format_html(
            '{}: <time datetime="{}">{}</time> ({})',
            _("last heartbeat"),
            charge_point.last_heartbeat.isoformat(),
            timezone.localtime(charge_point.last_heartbeat).strftime("%Y-%m-%d %H:%M:%S"),
            _("%(time)s ago") % {"time": timesince(charge_point.last_heartbeat)},
        )
    else:
        heartbeat = _("no heartbeat yet")
    connectors = charge_point.connectors.order_by("connector_id")
    return format_html(
        '<div class="cp-badges">{} <span class="cp-heartbeat">{}</span></div>'
        '<div class="cp-badges">{}</div>',
        online_badge(charge_point.is_online),
        heartbeat,
        format_html_join(" ", "{}", ((connector_badge(c),) for c in connectors))
        or _("no connector reported yet"),
    )


def socket_node(charge_point: ChargePoint) -> str:
    """The node holding the charge point's socket, linked to the registry."""
    if not charge_point.is_online or not charge_point.connection_channel:
        return "—"
    node = node_for_channel(channel_name=charge_point.connection_channel)
    if node is None:
        return _("unknown (no registered node uses this channel)")
    url = reverse("admin:monitoring_node_change", args=[node.pk])
    state = _("alive") if node.is_alive() else _("not heard from")
    return format_html('<a href="{}">{}</a> ({}, {})', url, node, node.node_id, state)

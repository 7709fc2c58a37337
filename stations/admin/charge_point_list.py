"""The charge point list: each one's connector statuses, and filters by status and connection.

The dashboard links its per-status counts here (`?connector_status=Faulted`);
the online and offline tiles use `?is_online__exact=1` and `=0`.
"""

from django.contrib import admin
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from monitoring import console

from ..choices import ConnectorStatus
from ..models import Connector

LISTED_CONNECTORS = "listed_connectors"
# Connector 0 stands for the whole charge point; OCPP 1.6 reports it only as
# Available, Unavailable or Faulted. Unavailable or Faulted, it says the
# charge point as a whole is: the list shows it and the filter counts it.
# Available, it says nothing about any plug being free: neither does.
WHOLE_CHARGE_POINT_STATUSES = (ConnectorStatus.UNAVAILABLE, ConnectorStatus.FAULTED)


def _shown(connector) -> bool:
    return connector.connector_id > 0 or connector.status in WHOLE_CHARGE_POINT_STATUSES


def connectors_prefetch() -> Prefetch:
    """The connectors of each listed charge point, in one query for the whole page."""
    return Prefetch(
        "connectors",
        queryset=Connector.objects.order_by("connector_id").only(
            "pk", "charge_point_id", "connector_id", "status", "error_code", "info"
        ),
        to_attr=LISTED_CONNECTORS,
    )


def connector_status_badges(charge_point) -> str:
    connectors = getattr(charge_point, LISTED_CONNECTORS, None)
    if connectors is None:  # not fetched with connectors_prefetch: one query
        connectors = charge_point.connectors.order_by("connector_id")
    badges = format_html_join(
        " ", "{}", ((console.connector_badge(c),) for c in connectors if _shown(c))
    )
    return badges or "—"


class ConnectorStatusFilter(admin.SimpleListFilter):
    """Charge points with a connector in this status (OCPP 1.6 and 2.0.1 alike).

    A 2.0.1 EVSE's status is kept in the same field as a 1.6 connector's, in
    the same neutral values, so one filter serves both versions.
    """

    title = _("connector status")
    parameter_name = "connector_status"

    def lookups(self, request, model_admin):
        return ConnectorStatus.choices

    def queryset(self, request, queryset):
        status = self.value()
        if status is None:
            return queryset
        if status not in ConnectorStatus.values:
            return queryset.none()
        matching = Q(connector_id__gt=0)
        if status in WHOLE_CHARGE_POINT_STATUSES:
            matching |= Q(connector_id=0)
        connectors = Connector.objects.filter(matching, charge_point=OuterRef("pk"), status=status)
        return queryset.filter(Exists(connectors))


class ConnectionFilter(admin.SimpleListFilter):
    """Online or offline: `is_online`, under the query parameter Django gives it."""

    title = _("connection")
    parameter_name = "is_online__exact"

    def lookups(self, request, model_admin):
        return (("1", _("Online")), ("0", _("Offline")))

    def queryset(self, request, queryset):
        if self.value() in ("1", "0"):
            return queryset.filter(is_online=self.value() == "1")
        return queryset

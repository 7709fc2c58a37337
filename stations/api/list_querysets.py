"""The querysets of the big API lists, with just the columns their serializers read.

Loading a row costs Python time per column (a timestamp is parsed, a JSON
document decoded, a model instance filled): a page of 500 sessions loaded
with every column of the session, its charge point, connector and invoice
took as long as serialising it, and the station page's charge points carry
a dozen firmware, diagnostics and connection timestamps the map never shows.
The serializers read nothing else (the query-count tests fail on a column
that is missing here: it would be read row by row).
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from ..models import ChargePoint, Connector, Station, Transaction

# The session's own row in full (what its serializers read is most of it); of
# the rows it refers to, what `charge_point`, `connector_id` and `invoice` show.
TRANSACTION_RELATED_COLUMNS = (
    "charge_point__charge_point_id",
    "connector__connector_id",
    "invoice__id",
)
# What StationChargePointSerializer and the EVSEs (stations.locations.station_evses)
# read of a charge point and of a connector.
STATION_CHARGE_POINT_COLUMNS = (
    "id",
    "station_id",
    "charge_point_id",
    "is_online",
    "registration_status",
    "ocpp_version",
    "connected_at",
    "last_seen",
    "updated_at",
)
STATION_CONNECTOR_COLUMNS = (
    "id",
    "charge_point_id",
    "connector_id",
    "status",
    "error_code",
    "evse_id",
    "standard",
    "format",
    "power_type",
    "max_voltage",
    "max_amperage",
    "max_power_w",
    "updated_at",
)


def api_transactions(sessions: QuerySet[Transaction]) -> QuerySet[Transaction]:
    """Sessions with their invoice, loaded for the session serializers (one query a page).

    The session's own columns are all loaded: deferring the few the API does
    not show saved nothing measurable (an instance with deferred fields is
    slower to build), and a field the serializers gain later costs no query.
    """
    own = [field.name for field in Transaction._meta.concrete_fields]
    return sessions.select_related("invoice").only(*own, *TRANSACTION_RELATED_COLUMNS)


def api_stations() -> QuerySet[Station]:
    """stations.selectors.station_list(), loading of charge points and connectors
    only what the station serializer shows (three queries a page)."""
    connectors = Connector.objects.order_by("connector_id").only(*STATION_CONNECTOR_COLUMNS)
    charge_points = (
        ChargePoint.objects.order_by("charge_point_id")
        .only(*STATION_CHARGE_POINT_COLUMNS)
        .prefetch_related(Prefetch("connectors", queryset=connectors))
    )
    return Station.objects.prefetch_related(Prefetch("charge_points", queryset=charge_points))

"""The status of an EVSE from the statuses of its connectors (OCPP 2.0.1 chargers).

A 2.0.1 charger reports each connector (plug) of an EVSE on its own; our
Connector row is the EVSE (its connector_id is the EVSE id: the unit that
runs one session). The plugs' last statuses are kept on it
(`evse_connector_statuses`), and the EVSE gets the one status that the
console, the API, the dashboards and billing read, as for a 1.6 connector:

- a plug's status maps to a neutral one: Occupied is Charging while a
  session runs on the EVSE, else Preparing (a car is plugged in, nothing
  runs yet); Available, Reserved, Unavailable and Faulted are themselves;
- the EVSE takes the most pressing status of its plugs:
  Faulted > Charging/Preparing (occupied) > Reserved > Unavailable > Available.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from django.db import transaction

from ..choices import ChargePointErrorCode, ConnectorStatus, SessionStatus
from ..models import Connector, Transaction
from .charge_points import connector_get_or_create, connector_status_update

# The statuses a plug reports (OCPP 2.0.1 ConnectorStatusEnumType spells them so).
PLUG_AVAILABLE = "Available"
PLUG_OCCUPIED = "Occupied"
PLUG_RESERVED = "Reserved"
PLUG_UNAVAILABLE = "Unavailable"
PLUG_FAULTED = "Faulted"
PLUG_STATUSES = (PLUG_AVAILABLE, PLUG_OCCUPIED, PLUG_RESERVED, PLUG_UNAVAILABLE, PLUG_FAULTED)

# Most pressing first: the EVSE shows the first one any of its plugs has.
_PRIORITY = (PLUG_FAULTED, PLUG_OCCUPIED, PLUG_RESERVED, PLUG_UNAVAILABLE, PLUG_AVAILABLE)


def evse_status_derive(*, plug_statuses: Mapping[str, str], session_running: bool) -> str:
    """The neutral status of an EVSE whose plugs report these statuses."""
    reported = set(plug_statuses.values())
    for plug_status in _PRIORITY:
        if plug_status in reported:
            break
    else:
        return ConnectorStatus.UNAVAILABLE  # no plug reported yet
    if plug_status == PLUG_OCCUPIED:
        return ConnectorStatus.CHARGING if session_running else ConnectorStatus.PREPARING
    return ConnectorStatus(plug_status)


def _session_running(evse: Connector) -> bool:
    return Transaction.objects.filter(connector_id=evse.pk, status=SessionStatus.RUNNING).exists()


def _error_code(evse_status: str) -> str:
    # 2.0.1 reports errors apart (NotifyEvent): a faulted EVSE says only that.
    if evse_status == ConnectorStatus.FAULTED:
        return ChargePointErrorCode.OTHER_ERROR
    return ChargePointErrorCode.NO_ERROR


@transaction.atomic
def evse_status_refresh(
    *, charge_point_pk: int, evse_id: int, timestamp: datetime | None = None
) -> Connector | None:
    """Derive an EVSE's status again after a session started or ended on it.

    A 2.0.1 charger reports no new plug status when charging starts (the
    plug stays Occupied): call this in the transaction that starts or ends
    the session, so that the EVSE shows Charging, then Preparing, as a 1.6
    connector does. `timestamp` is the charger's time of the event; without
    it the EVSE's last status time is kept. Nothing is logged if nothing
    changes, or for an EVSE whose plugs never reported.
    """
    evse = (
        Connector.objects.select_for_update()
        .filter(charge_point_id=charge_point_pk, connector_id=evse_id)
        .first()
    )
    if evse is None or not evse.evse_connector_statuses:
        return evse
    running = _session_running(evse)
    evse_status = evse_status_derive(
        plug_statuses=evse.evse_connector_statuses, session_running=running
    )
    if evse_status == evse.status:
        return evse
    return connector_status_update(
        charge_point_pk=charge_point_pk,
        connector_id=evse_id,
        status=evse_status,
        error_code=_error_code(evse_status),
        info="session running" if running else "no session running",
        timestamp=timestamp or evse.status_timestamp,
    )


@transaction.atomic
def evse_connector_status_update(
    *,
    charge_point_pk: int,
    evse_id: int,
    connector_id: int,
    status: str,
    timestamp: datetime | None = None,
) -> Connector:
    """Record a plug's status and the EVSE status it leads to (logged, evented as for 1.6).

    The EVSE row is locked: two plugs of one EVSE reported at once must not
    lose each other's status. A report older than the EVSE's current status
    is logged only (as connector_status_update does).
    """
    if status not in PLUG_STATUSES:
        raise ValueError(f"unknown connector status {status!r}")
    evse = connector_get_or_create(charge_point_pk=charge_point_pk, connector_id=evse_id)
    evse = Connector.objects.select_for_update().get(pk=evse.pk)
    is_stale = (
        timestamp is not None
        and evse.status_timestamp is not None
        and timestamp < evse.status_timestamp
    )
    plug_statuses = dict(evse.evse_connector_statuses or {})
    if not is_stale:
        plug_statuses[str(connector_id)] = status
        Connector.objects.filter(pk=evse.pk).update(evse_connector_statuses=plug_statuses)
    evse_status = evse_status_derive(
        plug_statuses=plug_statuses, session_running=_session_running(evse)
    )
    return connector_status_update(
        charge_point_pk=charge_point_pk,
        connector_id=evse_id,
        status=evse_status,
        error_code=_error_code(evse_status),
        # Which plug said what: the status log shows it next to the EVSE's status.
        info=f"connector {connector_id}: {status}"[:50],
        timestamp=timestamp,
    )

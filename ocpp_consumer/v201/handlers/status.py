"""OCPP 2.0.1 StatusNotification: the status of one connector of one EVSE.

Our Connector row is the EVSE; stations.services.evse_status keeps the
plugs' statuses on it and derives the EVSE's neutral status (logged and
pushed to dashboards as a 1.6 StatusNotification is).
"""

from __future__ import annotations

from ocpp.v201.enums import Action

from stations.services.evse_status import evse_connector_status_update
from stations.timestamps import parse_ocpp_datetime

from ...group_commit import committer
from ...handlers import Session
from ..registry import handles


@handles(Action.status_notification)
async def status_notification(session: Session, payload: dict) -> dict:
    await committer.write(
        evse_connector_status_update,
        charge_point_pk=session.charge_point.pk,
        evse_id=payload["evseId"],
        connector_id=payload["connectorId"],
        status=payload["connectorStatus"],
        timestamp=parse_ocpp_datetime(payload["timestamp"]),
    )
    return {}

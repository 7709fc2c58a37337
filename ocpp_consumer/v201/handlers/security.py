"""OCPP 2.0.1 SecurityEventNotification: every station must send them, the CSMS keeps them."""

from __future__ import annotations

from channels.db import database_sync_to_async
from ocpp.v201.enums import Action

from stations import services
from stations.models import SecurityEventOrigin
from stations.timestamps import parse_ocpp_datetime

from ...handlers import Session
from ..registry import handles


@handles(Action.security_event_notification)
async def security_event_notification(session: Session, payload: dict) -> dict:
    """Record it as a 1.6 security event (critical types flagged by the service)."""
    await database_sync_to_async(services.security_event_record)(
        event_type=payload["type"],
        origin=SecurityEventOrigin.CHARGE_POINT,
        charge_point_pk=session.charge_point.pk,
        tech_info=payload.get("techInfo", ""),
        timestamp=parse_ocpp_datetime(payload["timestamp"]),
    )
    return {}

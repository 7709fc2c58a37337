"""OCPP 2.0.1 diagnostics (block N): LogStatusNotification and NotifyEvent."""

from __future__ import annotations

from channels.db import database_sync_to_async
from ocpp.v201.enums import Action

from devicemodel.services import EventData, device_events_record
from stations import services
from stations.timestamps import parse_ocpp_datetime

from ...handlers import Session
from ..device_model import variable_key
from ..registry import handles


@handles(Action.log_status_notification)
async def log_status_notification(session: Session, payload: dict) -> dict:
    """Store the upload status of a GetLog as the 1.6 security extension's (console shows it).

    The values are 2.0.1's (Uploading, Uploaded, UploadFailure, ...); `requestId`
    names the GetLog (its Command row) and is in the journal.
    """
    await database_sync_to_async(services.chargepoint_log_status)(
        charge_point_pk=session.charge_point.pk, status=payload["status"]
    )
    return {}


@handles(Action.notify_event)
async def notify_event(session: Session, payload: dict) -> dict:
    """Store the events; a problem among them raises an alarm until it is cleared.

    A station sends NotifyEvent for its monitors and hard-wired notifications
    (in parts: seqNo/tbc, each part's events complete in themselves).
    """
    await database_sync_to_async(device_events_record)(
        charge_point_pk=session.charge_point.pk,
        events=[event_data(data) for data in payload["eventData"]],
    )
    return {}


def event_data(data: dict) -> EventData:
    """One EventDataType in the device model's terms."""
    return EventData(
        key=variable_key(data["component"], data["variable"]),
        event_id=data["eventId"],
        timestamp=parse_ocpp_datetime(data["timestamp"]),
        trigger=data["trigger"],
        cause=data.get("cause"),
        actual_value=data["actualValue"],
        tech_code=data.get("techCode", ""),
        tech_info=data.get("techInfo", ""),
        cleared=data.get("cleared", False),
        transaction_id=data.get("transactionId", ""),
        variable_monitoring_id=data.get("variableMonitoringId"),
        notification_type=data["eventNotificationType"],
    )

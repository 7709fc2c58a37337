"""OCPP 2.0.1 diagnostics (block N): LogStatusNotification and NotifyEvent."""

from __future__ import annotations

from channels.db import database_sync_to_async
from ocpp.v201.enums import Action

from stations import services

from ...handlers import Session
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
    """Acknowledge; the journal keeps the events (nothing of ours reads them yet).

    A station sends NotifyEvent for its monitors and hard-wired notifications
    and must get an answer (it would retry, and some stop sending). The states
    we act on arrive in their own messages (StatusNotification, TransactionEvent,
    SecurityEventNotification); the journal holds the frame for an operator,
    so storing the events again would duplicate it without a reader.
    """
    return {}

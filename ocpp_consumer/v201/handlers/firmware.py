"""OCPP 2.0.1 FirmwareStatusNotification: the station's progress of an UpdateFirmware."""

from __future__ import annotations

from channels.db import database_sync_to_async
from ocpp.v201.enums import Action

from stations import services

from ...handlers import Session
from ..registry import handles


@handles(Action.firmware_status_notification)
async def firmware_status_notification(session: Session, payload: dict) -> dict:
    """Store the status as 1.6 does (the console shows it with its time).

    The status values are 2.0.1's (Downloading, InstallVerificationFailed, ...),
    stored as sent; `requestId` names the UpdateFirmware (its Command row) and
    is in the journal.
    """
    await database_sync_to_async(services.chargepoint_firmware_status)(
        charge_point_pk=session.charge_point.pk, status=payload["status"]
    )
    return {}

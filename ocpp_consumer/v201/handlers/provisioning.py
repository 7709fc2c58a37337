"""OCPP 2.0.1 provisioning: BootNotification (kept with its reason) and Heartbeat.

Onboarding is the registration's, shared with 1.6: a Pending charge point
is answered Pending and its other CALLs get SecurityError, but for those
2.0.1 lets it send while Pending (protocols.OCPP201.allowed_while_pending:
the NotifyReport parts of a report the CSMS asked for). The CSMS may send
GetVariables, SetVariables, GetBaseReport and TriggerMessage meanwhile.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from django.utils import timezone
from ocpp.v201.enums import Action

from devicemodel.services import station_boot_record
from stations import services
from stations.timestamps import format_ocpp_datetime

from ...handlers import Session, heartbeat
from ..registry import handles


@handles(Action.boot_notification)
async def boot_notification(session: Session, payload: dict) -> dict:
    station = payload["chargingStation"]
    modem = station.get("modem", {})
    info = services.BootInfo(
        vendor=station["vendorName"],
        model=station["model"],
        charge_point_serial_number=station.get("serialNumber", ""),
        charge_box_serial_number="",
        firmware_version=station.get("firmwareVersion", ""),
        iccid=modem.get("iccid", ""),
        imsi=modem.get("imsi", ""),
        meter_type="",
        meter_serial_number="",
    )
    charge_point = await database_sync_to_async(station_boot_record)(
        charge_point=session.charge_point, info=info, reason=payload["reason"]
    )
    session.charge_point = charge_point
    return {
        "status": services.chargepoint_registration_answer(charge_point=charge_point),
        "currentTime": format_ocpp_datetime(timezone.now()),
        "interval": services.chargepoint_heartbeat_interval(charge_point=charge_point),
    }


# The same message and answer as in 1.6: the same handler (writes throttled).
handles(Action.heartbeat)(heartbeat)
